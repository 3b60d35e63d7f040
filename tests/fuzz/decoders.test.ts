import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzzTarget, loadCorpus } from './targets.ts';
import { fuzz } from './harness.ts';
import { mutate, fuzzRandom } from './mutate.ts';

// Fixed-seed runs of the byte-level decoders; the million-input mode is bench/fuzz.ts.
const RUNS: Record<string, number> = { 'wire-frame': 3000, 'wire-record': 5000, 'gatt-hrm': 5000, 'gatt-rsc': 5000, envelope: 3000, 'mqtt-guard': 5000 };

describe('fuzz: binary decoders refuse bad input with their own error class only', () => {
  it.each(Object.entries(RUNS))('%s: %i mutated and random inputs, no failure', (name, n) => {
    const tally = fuzz(fuzzTarget(name), 20261128, n);
    expect(tally.inputs).toBe(n);
    expect(tally.examples).toEqual([]);
    expect(tally.failures).toBe(0);
  });

  it.each(Object.keys(RUNS))('%s: every corpus sample is valid input (the mutations start from real data)', (name) => {
    const corpus = loadCorpus(name);
    expect(corpus.length).toBeGreaterThan(0);
    for (const sample of corpus) expect(fuzzTarget(name).run(sample)).toBeUndefined();
  });

  it('fast-check: arbitrary bytes and arbitrary mutations of the corpus, all targets', () => {
    const names = Object.keys(RUNS);
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.uint8Array({ maxLength: 300 }), fc.integer(), (name, bytes, seed) => {
        const target = fuzzTarget(name);
        const corpus = loadCorpusCached(name);
        const mutated = mutate(fuzzRandom(seed), corpus[Math.abs(seed) % corpus.length], corpus, target.maxInputBytes);
        return target.run(bytes) === undefined && target.run(mutated) === undefined;
      }),
      { numRuns: 1500 },
    );
  });
});

describe('fuzz harness', () => {
  it('reports a target that throws an undocumented error, with a replayable example', () => {
    const broken = { name: 'wire-record', maxInputBytes: 16, run: (b: Uint8Array) => (b.length > 3 ? 'undocumented TypeError: boom' : undefined) };
    const tally = fuzz(broken, 1, 200);
    expect(tally.failures).toBeGreaterThan(0);
    expect(tally.examples[0].problem).toMatch(/TypeError/);
    expect(fuzz(broken, 1, 200)).toEqual(tally); // deterministic in the seed
  });

  it('the decoders are actually exercised: the wire decoder sees good frames and every error kind', () => {
    const counts = { ok: 0, bad: 0 };
    const rng = fuzzRandom(7);
    const corpus = loadCorpus('wire-record');
    const kinds = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const input = mutate(rng, corpus[i % corpus.length], corpus, 128);
      try {
        decodeRecordForTest(input);
        counts.ok++;
      } catch (e) {
        counts.bad++;
        kinds.add((e as { kind: string }).kind);
      }
    }
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.bad).toBeGreaterThan(1000);
    expect([...kinds].sort()).toEqual(expect.arrayContaining(['crc', 'length']));
  });
});

import { decodeRecord as decodeRecordForTest } from '../../firmware-bindings/index.ts';

const corpusCache = new Map<string, Uint8Array[]>();
function loadCorpusCached(name: string): Uint8Array[] {
  let c = corpusCache.get(name);
  if (!c) corpusCache.set(name, (c = loadCorpus(name)));
  return c;
}
