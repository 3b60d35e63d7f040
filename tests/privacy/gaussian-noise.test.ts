import { describe, expect, it } from 'vitest';
import { StandardNormalStream, createDiscreteGaussianNoise, createGaussianNoise } from '../../privacy/gaussian-noise.ts';
import { bernoulliExpMinus, discreteGaussianSampler, isqrt, sampleDiscreteLaplace } from '../../privacy/discrete-gaussian.ts';
import { createSecureRandom, seededRandomForTests } from '../../privacy/secure-random.ts';
import { KS_CRITICAL_0001, chiSquare, chiSquareSurvival, ksNormal, meanAndSd } from './stats.ts';

/** Moments and KS of N(0, std^2) noise: bounds are 5 standard errors of the sampling distribution. */
function expectGaussian(xs: Float64Array, std: number): void {
  const n = xs.length;
  const { mean, sd } = meanAndSd(xs);
  expect(Math.abs(mean)).toBeLessThan((5 * std) / Math.sqrt(n));
  expect(Math.abs(sd - std)).toBeLessThan((5 * std) / Math.sqrt(2 * n));
  expect(ksNormal(xs, 0, std)).toBeLessThan(KS_CRITICAL_0001);
}

describe("continuous Gaussian noise ('secure' = Opacus secure_mode, 'plain')", () => {
  it('secure: N(0, std^2) by mean, sd and KS at a fixed seed', () => {
    const noise = createGaussianNoise(seededRandomForTests(31), { kind: 'secure' });
    const out = new Float64Array(50000);
    noise.addTo(out, 2.5);
    expectGaussian(out, 2.5);
  });

  it('plain: N(0, std^2) by mean, sd and KS at a fixed seed', () => {
    const noise = createGaussianNoise(seededRandomForTests(32), { kind: 'plain' });
    const out = new Float64Array(50000);
    noise.addTo(out, 0.7);
    expectGaussian(out, 0.7);
  });

  it('secure: one discarded draw, then (z1 + z2 + z3 + z4) / 2 per coordinate (opacus.md §1.5)', () => {
    const noise = createGaussianNoise(seededRandomForTests(77), { kind: 'secure' });
    const reference = new StandardNormalStream(seededRandomForTests(77));
    const out = new Float64Array(3).fill(10);
    noise.addTo(out, 1.5);
    reference.next(); // the discarded draw
    for (let i = 0; i < 3; i++) {
      const s = reference.next() + reference.next() + reference.next() + reference.next();
      expect(out[i]).toBe(10 + 1.5 * (s / 2));
    }
  });

  it('std 0 adds nothing; the OS source makes it cryptographically secure; plain never is', () => {
    const noise = createGaussianNoise(createSecureRandom());
    const out = Float64Array.of(1, 2, 3);
    noise.addTo(out, 0);
    expect(Array.from(out)).toEqual([1, 2, 3]);
    expect(noise.cryptographicallySecure).toBe(true);
    expect(createGaussianNoise(createSecureRandom(), { kind: 'plain' }).cryptographicallySecure).toBe(false);
    expect(createGaussianNoise(seededRandomForTests(1)).cryptographicallySecure).toBe(false);
    expect(noise.stdFor(1.1, 2, 401)).toBe(2.2);
    expect(() => noise.addTo(out, -1)).toThrow(/std/);
  });
});

describe('exact discrete Gaussian (Canonne, Kamath, Steinke 2020)', () => {
  it('Bernoulli(exp(-gamma)) has the right frequency for gamma below and above 1', () => {
    const r = seededRandomForTests(3);
    for (const [num, den] of [[3n, 10n], [1n, 1n], [5n, 2n]] as const) {
      const p = Math.exp(-Number(num) / Number(den));
      const n = 20000;
      let hits = 0;
      for (let i = 0; i < n; i++) if (bernoulliExpMinus(r, num, den)) hits++;
      expect(Math.abs(hits - n * p)).toBeLessThan(5 * Math.sqrt(n * p * (1 - p)));
    }
    expect(bernoulliExpMinus(r, 0n, 7n)).toBe(true); // exp(0) = 1
  });

  it('discrete Laplace(t) matches its pmf (chi-square)', () => {
    const r = seededRandomForTests(4);
    const t = 2n;
    const n = 20000;
    const K = 8;
    const counts = new Array(2 * K + 3).fill(0); // [-K..K] plus two tails
    for (let i = 0; i < n; i++) {
      const y = Number(sampleDiscreteLaplace(r, t));
      counts[y < -K ? 0 : y > K ? 2 * K + 2 : y + K + 1]++;
    }
    const e = Math.exp(-1 / 2);
    const pmf = (k: number) => ((1 - e) / (1 + e)) * e ** Math.abs(k);
    const tail = (e ** (K + 1) / (1 + e)); // P[Y > K]
    const expected = [tail * n, ...Array.from({ length: 2 * K + 1 }, (_, j) => pmf(j - K) * n), tail * n];
    expect(chiSquareSurvival(chiSquare(counts, expected), expected.length - 1)).toBeGreaterThan(1e-4);
  });

  it.each([1.5, 3.25, 0.4])('N_Z(0, %d^2) matches its pmf (chi-square) and moments', (sigma) => {
    const sample = discreteGaussianSampler(seededRandomForTests(Math.round(sigma * 100)), sigma);
    const n = 12000;
    const K = Math.ceil(4 * sigma);
    const weights = Array.from({ length: 2 * K + 1 }, (_, j) => Math.exp(-((j - K) ** 2) / (2 * sigma * sigma)));
    // Normaliser over all integers (terms beyond 12 sigma are < 1e-30).
    let z = 0;
    for (let k = -Math.ceil(12 * sigma) - 2; k <= Math.ceil(12 * sigma) + 2; k++) z += Math.exp(-(k * k) / (2 * sigma * sigma));
    const inner = weights.reduce((a, b) => a + b, 0) / z;
    const counts = new Array(2 * K + 2).fill(0); // [-K..K] plus |k| > K lumped
    const xs = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const k = Number(sample());
      xs[i] = k;
      counts[Math.abs(k) > K ? 2 * K + 1 : k + K]++;
    }
    const expected = [...weights.map((w) => (w / z) * n), (1 - inner) * n];
    // Merge bins with expectation < 5 into the tail bin (chi-square validity).
    const obs: number[] = [];
    const exp: number[] = [];
    let tailObs = counts[2 * K + 1];
    let tailExp = expected[2 * K + 1];
    for (let j = 0; j <= 2 * K; j++) {
      if (expected[j] < 5) {
        tailObs += counts[j];
        tailExp += expected[j];
      } else {
        obs.push(counts[j]);
        exp.push(expected[j]);
      }
    }
    if (tailExp > 0) {
      obs.push(tailObs);
      exp.push(tailExp);
    }
    expect(chiSquareSurvival(chiSquare(obs, exp), obs.length - 1)).toBeGreaterThan(1e-4);
    const { mean } = meanAndSd(xs);
    expect(Math.abs(mean)).toBeLessThan((5 * sigma) / Math.sqrt(n) + 1e-9);
  });

  it('isqrt is the integer floor of the square root', () => {
    for (const n of [0n, 1n, 2n, 3n, 4n, 15n, 16n, 17n, (1n << 80n) - 1n, 1n << 80n, 10n ** 30n + 7n]) {
      const s = isqrt(n);
      expect(s * s <= n && (s + 1n) * (s + 1n) > n).toBe(true);
    }
  });
});

describe("'discrete' noise on a power-of-two grid", () => {
  it('outputs grid points only, with N(0, std^2) noise (moments and KS)', () => {
    const noise = createDiscreteGaussianNoise(seededRandomForTests(21), { gridBitsBelowStd: 32 });
    const std = 1.7;
    const g = 2 ** -32; // largest power of two <= 1.7 is 1
    const input = Float64Array.from({ length: 4000 }, (_, i) => Math.sin(i) * 0.3);
    const out = input.slice();
    noise.addTo(out, std);
    const diffs = new Float64Array(out.length);
    for (let i = 0; i < out.length; i++) {
      expect(Number.isInteger(out[i] / g)).toBe(true);
      diffs[i] = out[i] - input[i];
    }
    expectGaussian(diffs, std);
  });

  it('stdFor inflates the std enough to cover the rounding onto the grid', () => {
    const noise = createDiscreteGaussianNoise(seededRandomForTests(1), { gridBitsBelowStd: 20 });
    for (const [sigma, c, dim] of [[1.1, 1, 401], [0.5, 3, 100000], [8, 0.1, 10]] as const) {
      const std = noise.stdFor(sigma, c, dim);
      let pow = 1;
      while (pow * 2 <= std) pow *= 2;
      while (pow > std) pow /= 2;
      const g = pow * 2 ** -20;
      // Neighbours end up at most c + sqrt(dim) g apart: the noise must be sigma times that.
      expect(std).toBeGreaterThanOrEqual(sigma * (c + Math.sqrt(dim) * g));
      expect(std / (sigma * c)).toBeLessThan(1 + 1e-2);
    }
    expect(() => createDiscreteGaussianNoise(seededRandomForTests(1), { gridBitsBelowStd: 8 }).stdFor(100, 1, 1e6)).toThrow(/gridBitsBelowStd/);
  });

  it('refuses values too large for the grid instead of rounding them silently', () => {
    const noise = createDiscreteGaussianNoise(seededRandomForTests(2), { gridBitsBelowStd: 40 });
    expect(() => noise.addTo(Float64Array.of(1e6), 1)).toThrow(/too large/);
    expect(() => noise.addTo(Float64Array.of(NaN), 1)).toThrow(/not finite/);
  });
});
