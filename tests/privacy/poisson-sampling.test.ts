import { describe, expect, it } from 'vitest';
import { poissonBatches, poissonSample } from '../../privacy/poisson-sampling.ts';
import { createSecureRandom, seededRandomForTests } from '../../privacy/secure-random.ts';

describe('poissonSample (Opacus UniformWithReplacementSampler)', () => {
  it('has the binomial rate: total over 200 batches of N=10000 at q=0.01 within 5 sd of 20000', () => {
    const r = seededRandomForTests(2024);
    let total = 0;
    for (let s = 0; s < 200; s++) total += poissonSample(10000, 0.01, r).length;
    const n = 200 * 10000;
    const sd = Math.sqrt(n * 0.01 * 0.99);
    expect(Math.abs(total - n * 0.01)).toBeLessThan(5 * sd);
  });

  it('includes each example independently: per-index frequency is q for every index', () => {
    const r = seededRandomForTests(5);
    const hits = new Array(20).fill(0);
    const trials = 5000;
    for (let s = 0; s < trials; s++) for (const i of poissonSample(20, 0.3, r)) hits[i]++;
    const sd = Math.sqrt(trials * 0.3 * 0.7);
    for (const h of hits) expect(Math.abs(h - trials * 0.3)).toBeLessThan(5 * sd);
  });

  it('returns strictly ascending indices in range', () => {
    const b = poissonSample(1000, 0.2, createSecureRandom());
    for (let k = 1; k < b.length; k++) expect(b[k]).toBeGreaterThan(b[k - 1]);
    expect(b.every((i) => i >= 0 && i < 1000)).toBe(true);
  });

  it('allows empty batches and handles q = 0 and q = 1', () => {
    const r = seededRandomForTests(9);
    let empty = 0;
    for (let s = 0; s < 200; s++) if (poissonSample(10, 0.01, r).length === 0) empty++;
    // P[empty] = 0.99^10 = 0.904
    expect(empty).toBeGreaterThan(150);
    expect(poissonSample(50, 0, r).length).toBe(0);
    expect(Array.from(poissonSample(5, 1, r))).toEqual([0, 1, 2, 3, 4]);
  });

  it('an epoch is int(1/q) batches unless steps is given', () => {
    const r = seededRandomForTests(1);
    expect([...poissonBatches(100, 1 / 93, r)].length).toBe(92); // the float quirk: int(1/(1/93)) = 92
    expect([...poissonBatches(100, 0.25, r, 3)].length).toBe(3);
  });

  it('names bad parameters', () => {
    const r = seededRandomForTests(1);
    expect(() => poissonSample(-1, 0.1, r)).toThrow(/numExamples/);
    expect(() => poissonSample(10, 1.1, r)).toThrow(/sampleRate/);
  });
});
