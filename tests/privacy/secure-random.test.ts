import { describe, expect, it } from 'vitest';
import { createSecureRandom, randomBigIntBelow, randomIntBelow, seededRandomForTests } from '../../privacy/secure-random.ts';
import { chiSquare, chiSquareSurvival } from './stats.ts';

describe('createSecureRandom (node:crypto)', () => {
  it('gives doubles in [0, 1) on the 2^-53 grid, across block refills', () => {
    const r = createSecureRandom({ blockBytes: 64 }); // 16 words: forces many refills
    expect(r.cryptographicallySecure).toBe(true);
    let odd = 0;
    let sum = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const x = r.nextDouble();
      expect(x >= 0 && x < 1).toBe(true);
      const k = x * 2 ** 53;
      expect(Number.isInteger(k)).toBe(true);
      if (k % 2 === 1) odd++;
      sum += x;
    }
    // All 53 bits are random: the lowest is 1 about half the time. Bounds are 6 sigma (false failure ~1e-9).
    expect(Math.abs(odd - n / 2)).toBeLessThan(6 * Math.sqrt(n / 4));
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(6 * Math.sqrt(1 / 12 / n));
  });

  it('rejects a bad block size', () => {
    expect(() => createSecureRandom({ blockBytes: 10 })).toThrow(/blockBytes/);
  });
});

describe('seededRandomForTests', () => {
  it('is deterministic per seed, different across seeds, and flagged insecure', () => {
    const a = seededRandomForTests(42);
    const b = seededRandomForTests(42);
    const c = seededRandomForTests(43);
    const xa = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(xa);
    expect(a.cryptographicallySecure).toBe(false);
  });

  it('is uniform: chi-square over 64 bins of nextDouble', () => {
    const r = seededRandomForTests(7);
    const counts = new Array(64).fill(0);
    const n = 64000;
    for (let i = 0; i < n; i++) counts[Math.floor(r.nextDouble() * 64)]++;
    const p = chiSquareSurvival(chiSquare(counts, new Array(64).fill(n / 64)), 63);
    expect(p).toBeGreaterThan(1e-4);
  });
});

describe('uniform integers', () => {
  it('randomIntBelow is unbiased for a non-power-of-two bound', () => {
    const r = seededRandomForTests(11);
    const n = 3;
    const counts = [0, 0, 0];
    for (let i = 0; i < 30000; i++) counts[randomIntBelow(r, n)]++;
    expect(chiSquareSurvival(chiSquare(counts, [10000, 10000, 10000]), 2)).toBeGreaterThan(1e-4);
    expect(() => randomIntBelow(r, 0)).toThrow(/n must be/);
  });

  it('randomBigIntBelow stays below large bounds and covers the top bits', () => {
    const r = seededRandomForTests(12);
    const bound = (1n << 100n) + 12345n;
    let sawHigh = false;
    for (let i = 0; i < 2000; i++) {
      const v = randomBigIntBelow(r, bound);
      expect(v >= 0n && v < bound).toBe(true);
      if (v >= 1n << 99n) sawHigh = true;
    }
    expect(sawHigh).toBe(true);
    expect(randomBigIntBelow(r, 1n)).toBe(0n);
    // Small bound, exact frequencies: uniform on {0..4}.
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < 25000; i++) counts[Number(randomBigIntBelow(r, 5n))]++;
    expect(chiSquareSurvival(chiSquare(counts, new Array(5).fill(5000)), 4)).toBeGreaterThan(1e-4);
  });
});
