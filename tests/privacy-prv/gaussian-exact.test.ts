/**
 * A check that needs neither Opacus nor any other accountant: without subsampling (q = 1), n steps
 * of the Gaussian mechanism with noise multiplier sigma are exactly one Gaussian mechanism with
 * mu = sqrt(n)/sigma, whose privacy curve is known in closed form (Balle & Wang 2018, Theorem 8;
 * Dong, Roth, Su 2019, Corollary 2.13):
 *   delta(eps) = Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2).
 * Gopi et al. Theorem 5.5 promises lower <= eps_exact <= upper.
 */
import { describe, expect, it } from 'vitest';
import { ndtr } from '../../privacy/special-functions.ts';
import { PoissonSubsampledGaussianPRV, prvEpsilon } from '../../privacy/prv/index.ts';

function exactGaussianEpsilon(mu: number, delta: number): number {
  const deltaOf = (eps: number): number => ndtr(-eps / mu + mu / 2) - Math.exp(eps) * ndtr(-eps / mu - mu / 2);
  let lo = 0;
  let hi = 1;
  while (deltaOf(hi) > delta) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (deltaOf(mid) > delta) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

describe('PRV of the (unsubsampled) Gaussian mechanism vs its closed form', () => {
  const cases: [number, number, number][] = [
    [0.8, 1, 1e-5],
    [2, 1, 1e-5],
    [5, 10, 1e-6],
    [3, 20, 1e-5],
    [6, 100, 1e-5],
  ];
  for (const [sigma, steps, delta] of cases) {
    it(`sigma=${sigma} steps=${steps} delta=${delta}: lower <= exact <= upper, estimate within 1e-4`, () => {
      const exact = exactGaussianEpsilon(Math.sqrt(steps) / sigma, delta);
      const out = prvEpsilon([{ noiseMultiplier: sigma, sampleRate: 1, steps }], delta);
      expect(out.lower).toBeLessThanOrEqual(exact);
      expect(out.epsilon).toBeGreaterThanOrEqual(exact);
      expect(Math.abs(out.estimate - exact)).toBeLessThan(1e-4); // measured <= 6.1e-6
    });
  }
  it('the q = 1 PRV is the Gaussian N(1/(2 sigma^2), 1/sigma^2): cdf and pdf', () => {
    const sigma = 1.3;
    const prv = new PoissonSubsampledGaussianPRV(1, sigma);
    const mean = 1 / (2 * sigma * sigma);
    for (const t of [-3, -0.5, 0, 0.1, 0.4, 1, 2.5, 6]) {
      const z = (t - mean) * sigma;
      expect(prv.cdf(t)).toBeCloseTo(ndtr(z), 14);
      expect(prv.pdf(t)).toBeCloseTo((sigma * Math.exp(-0.5 * z * z)) / Math.sqrt(2 * Math.PI), 13);
    }
  });
});
