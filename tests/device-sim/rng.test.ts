import { describe, expect, it } from 'vitest';
import { Rng, hashSeed, makeRng } from '../../device-sim/index.ts';

describe('Rng (sfc32)', () => {
  it('gives the same stream for the same seed and a different one for another seed', () => {
    const a = makeRng(42, 'x');
    const b = makeRng(42, 'x');
    const c = makeRng(43, 'x');
    const sa = Array.from({ length: 50 }, () => a.nextU32());
    expect(Array.from({ length: 50 }, () => b.nextU32())).toEqual(sa);
    expect(Array.from({ length: 50 }, () => c.nextU32())).not.toEqual(sa);
  });

  it('separates seed parts: ("ab","c") and ("a","bc") hash differently, as do 1 and "1"', () => {
    expect(hashSeed('ab', 'c')).not.toBe(hashSeed('a', 'bc'));
    expect(hashSeed(1)).not.toBe(hashSeed('1'));
    expect(() => hashSeed(Number.NaN)).toThrow(/finite/);
  });

  it('draws uniform floats in [0,1) and integers in the inclusive range', () => {
    const r = new Rng(7);
    const counts = [0, 0, 0, 0];
    let min = 1;
    let max = 0;
    for (let i = 0; i < 40_000; i++) {
      const f = r.float();
      min = Math.min(min, f);
      max = Math.max(max, f);
      counts[r.int(0, 3)]!++;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    for (const c of counts) expect(c / 40_000).toBeCloseTo(0.25, 1);
  });

  it('draws normals with the requested mean and SD, and mean-1 factors with SD about sigma', () => {
    const r = new Rng(9);
    const n = 40_000;
    const xs = Array.from({ length: n }, () => r.normal(5, 2));
    const mean = xs.reduce((s, x) => s + x, 0) / n;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
    expect(mean).toBeCloseTo(5, 1);
    expect(sd).toBeCloseTo(2, 1);
    const fs = Array.from({ length: n }, () => r.factor(0.1));
    const fm = fs.reduce((s, x) => s + x, 0) / n;
    const fsd = Math.sqrt(fs.reduce((s, x) => s + (x - fm) ** 2, 0) / (n - 1));
    expect(fm).toBeCloseTo(1, 2);
    expect(fsd).toBeGreaterThan(0.09);
    expect(fsd).toBeLessThan(0.11);
  });

  it('picks by weight and refuses an all-zero weight list', () => {
    const r = new Rng(3);
    const hits = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) hits[r.weightedIndex([1, 0, 3])]!++;
    expect(hits[1]).toBe(0);
    expect(hits[2]! / hits[0]!).toBeGreaterThan(2.7);
    expect(hits[2]! / hits[0]!).toBeLessThan(3.3);
    expect(() => r.weightedIndex([0, 0])).toThrow(/positive total/);
  });

  it('forks streams that differ from each other and from the parent', () => {
    const parent = new Rng(1);
    const f1 = parent.fork('a');
    const f2 = parent.fork('a');
    expect(f1.nextU32()).not.toBe(f2.nextU32());
  });
});
