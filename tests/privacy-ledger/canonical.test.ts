import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalize, CanonicalizationError } from '../../privacy/ledger/index.ts';

describe('canonicalize', () => {
  it('sorts keys at every depth and drops whitespace', () => {
    expect(canonicalize({ b: 1, a: { d: [3, { z: true, y: null }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
  });

  it('sorts keys by UTF-16 code units (RFC 8785 §3.2.3), not by locale', () => {
    expect(canonicalize({ b: 0, B: 0, é: 0, '10': 0, '9': 0 })).toBe('{"10":0,"9":0,"B":0,"b":0,"é":0}');
  });

  it('prints numbers in shortest round-trip form; -0 as 0', () => {
    expect(canonicalize([0.1, 1e21, 1e-7, -0, 5e-324, 123456789012])).toBe('[0.1,1e+21,1e-7,0,5e-324,123456789012]');
  });

  it('refuses what JSON cannot say, naming where', () => {
    expect(() => canonicalize({ a: [1, Number.NaN] })).toThrow(/\$\.a\[1\]: NaN/);
    expect(() => canonicalize({ a: Infinity })).toThrow(CanonicalizationError);
    expect(() => canonicalize({ s: 'x\uD800y' })).toThrow(/lone surrogate/);
    expect(() => canonicalize({ d: new Date(0) })).toThrow(/plain objects/);
    expect(() => canonicalize({ f: () => 1 })).toThrow(/function/);
  });

  it('is independent of member order and stable through JSON.parse (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const c = canonicalize(v);
        expect(canonicalize(JSON.parse(c))).toBe(c);
        expect(canonicalize(JSON.parse(JSON.stringify(v, null, 2)))).toBe(c);
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});
