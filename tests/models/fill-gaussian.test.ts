/**
 * fillGaussian (models/random.ts, Ziggurat) draws standard normals: its empirical CDF matches Φ,
 * including the tail beyond the Ziggurat's base layer (r ≈ 3.44, a separate code path), and its
 * moments are those of N(0, 1). 10⁶ draws; every bound is at least 5 standard errors wide.
 */
import { describe, expect, it } from 'vitest';
import { fillGaussian, seededRng } from '../../models/random.ts';

describe('fillGaussian', () => {
  const n = 1_000_000;
  const draws = new Float64Array(n);
  fillGaussian(seededRng(11), draws);

  it('has the CDF of N(0, 1)', () => {
    const phi: Array<[number, number]> = [
      [-3, 0.0013499], [-2, 0.0227501], [-1, 0.1586553], [-0.5, 0.3085375], [0, 0.5],
      [0.5, 0.6914625], [1, 0.8413447], [2, 0.9772499], [3, 0.9986501],
    ];
    for (const [x, p] of phi) {
      let below = 0;
      for (let i = 0; i < n; i++) if (draws[i] < x) below++;
      expect(Math.abs(below / n - p)).toBeLessThanOrEqual(5 * Math.sqrt((p * (1 - p)) / n));
    }
  });

  it('reaches the tail beyond the base layer at the right rate on both sides', () => {
    // P(X > 3.5) = 2.3263e-4: about 233 draws per side, standard error ~15.
    let hi = 0;
    let lo = 0;
    for (let i = 0; i < n; i++) {
      if (draws[i] > 3.5) hi++;
      else if (draws[i] < -3.5) lo++;
    }
    for (const c of [hi, lo]) expect(Math.abs(c - 232.63)).toBeLessThanOrEqual(5 * Math.sqrt(232.63));
  });

  it('has mean 0, variance 1 and kurtosis 3', () => {
    let m = 0;
    let v = 0;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const x = draws[i];
      m += x;
      v += x * x;
      k += x ** 4;
    }
    expect(Math.abs(m / n)).toBeLessThanOrEqual(5 / Math.sqrt(n));
    expect(Math.abs(v / n - 1)).toBeLessThanOrEqual(5 * Math.sqrt(2 / n));
    expect(Math.abs(k / n - 3)).toBeLessThanOrEqual(5 * Math.sqrt(96 / n));
  });

  it('fills every slot, odd lengths included, deterministically for a seed', () => {
    const a = new Float64Array(7).fill(Number.NaN);
    const b = new Float64Array(7);
    fillGaussian(seededRng(1), a);
    fillGaussian(seededRng(1), b);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(Array.from(a)).toEqual(Array.from(b));
  });
});
