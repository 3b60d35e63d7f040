import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WireError, cobsDecode, cobsEncode, cobsMaxEncodedLength } from '../../firmware-bindings/index.ts';
import { loadFixture } from '../helpers/fixtures.ts';

const vectors = loadFixture<typeof import('../fixtures/wire-vectors.json')>('wire-vectors.json');
import { SEED, hex, unhex } from './helpers.ts';

function decodeError(bytes: number[]): WireError {
  try {
    cobsDecode(Uint8Array.from(bytes));
  } catch (e) {
    if (e instanceof WireError) return e;
    throw e;
  }
  throw new Error('cobsDecode accepted bad input');
}

describe('COBS', () => {
  it('encodes and decodes the shared vectors (Wikipedia cases, 253/254/255/508-byte runs)', () => {
    for (const v of vectors.cobs) {
      expect(hex(cobsEncode(unhex(v.data))), v.name).toBe(v.encoded);
      expect(hex(cobsDecode(unhex(v.encoded))), v.name).toBe(v.data);
    }
  });

  it('round-trips any bytes, never emits 0x00, and stays within the length bound', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 700 }),
      // long zero-free runs around the 254-byte block size
      fc.tuple(fc.integer({ min: 250, max: 520 }), fc.uint8Array({ maxLength: 3 })).map(([n, tail]) =>
        Uint8Array.from([...new Array<number>(n).fill(7), ...tail]),
      ),
    );
    fc.assert(
      fc.property(bytes, (data) => {
        const enc = cobsEncode(data);
        expect(enc.includes(0)).toBe(false);
        expect(enc.length).toBeLessThanOrEqual(cobsMaxEncodedLength(data.length));
        expect(hex(cobsDecode(enc))).toBe(hex(data));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('encodes empty input as a single 0x01', () => {
    expect(hex(cobsEncode(new Uint8Array(0)))).toBe('01');
    expect(cobsDecode(Uint8Array.of(1)).length).toBe(0);
  });

  it('accepts the paper form of a final full block (a trailing empty 0x01 block) too', () => {
    const data = Array.from({ length: 254 }, (_, i) => i + 1);
    expect(hex(cobsDecode(Uint8Array.from([0xff, ...data, 0x01])))).toBe(hex(Uint8Array.from(data)));
  });

  it('refuses bad input with a clear error', () => {
    expect(decodeError([]).message).toMatch(/^cobs: empty input/);
    expect(decodeError([0x03, 0x11]).message).toMatch(/^cobs: block at offset 0 \(code 3\) runs 1 byte\(s\) past the end/);
    expect(decodeError([0x02, 0x11, 0x00]).message).toMatch(/^cobs: 0x00 at offset 2/);
    expect(decodeError([0x03, 0x00, 0x11]).kind).toBe('cobs');
  });
});
