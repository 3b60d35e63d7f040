/** The public face: prvAccountant (the shared Accountant contract) and prvEpsilon's inputs and errors. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_EPS_ERROR, DEFAULT_MAX_DOMAIN_POINTS, prvAccountant, prvDomain, prvEpsilon } from '../../privacy/prv/index.ts';
import { loadAccountant } from '../../privacy/accountant-registry.ts';

const H = [{ noiseMultiplier: 1.1, sampleRate: 0.01, steps: 100 }];

describe('prvAccountant', () => {
  it('reports the upper bound as epsilon (what Opacus get_epsilon returns) with estimate and lower', () => {
    const r = prvAccountant.epsilon(H, 1e-5);
    const full = prvEpsilon(H, 1e-5);
    expect(prvAccountant.name).toBe('prv');
    expect(r).toEqual({ epsilon: full.epsilon, delta: 1e-5, accountant: 'prv', estimate: full.estimate, lower: full.lower });
    expect(r.lower!).toBeLessThan(r.estimate!);
    expect(r.estimate!).toBeLessThan(r.epsilon);
    // Opacus v1.4.0 for this case: eps_upper 0.5598339316317908
    expect(r.epsilon).toBeCloseTo(0.5598339316317908, 7);
  });
  it('is what the accountant registry hands out for "prv"', async () => {
    expect(await loadAccountant('prv')).toBe(prvAccountant);
  });
  it('an empty history, or one of zero steps / zero sampling rate, has spent nothing', () => {
    for (const h of [[], [{ noiseMultiplier: 1, sampleRate: 0.1, steps: 0 }], [{ noiseMultiplier: 1, sampleRate: 0, steps: 50 }]]) {
      expect(prvAccountant.epsilon(h, 1e-5)).toMatchObject({ epsilon: 0, estimate: 0, lower: 0 });
    }
  });
  it('free entries are ignored among real ones', () => {
    const withFree = [{ noiseMultiplier: 2, sampleRate: 0, steps: 10 }, ...H, { noiseMultiplier: 1, sampleRate: 0.2, steps: 0 }];
    expect(prvEpsilon(withFree, 1e-5)).toEqual(prvEpsilon(H, 1e-5));
  });
  it('a step without noise has no privacy: infinity', () => {
    expect(prvAccountant.epsilon([...H, { noiseMultiplier: 0, sampleRate: 0.01, steps: 1 }], 1e-5).epsilon).toBe(Infinity);
  });
  it('eps_error and delta_error are Opacus defaults, and widen the band when larger', () => {
    const d = prvEpsilon(H, 1e-5);
    expect(d.epsError).toBe(DEFAULT_EPS_ERROR);
    expect(d.deltaError).toBe(1e-8);
    expect(d.epsilon - d.estimate).toBeGreaterThan(0.01);
    expect(d.epsilon - d.estimate).toBeLessThan(0.0102);
    const wide = prvEpsilon(H, 1e-5, { epsError: 0.1, deltaError: 1e-7 });
    expect(wide.epsilon - wide.estimate).toBeGreaterThan(0.1);
    expect(Math.abs(wide.estimate - d.estimate)).toBeLessThan(0.02);
    expect(wide.domainSize).toBeLessThan(d.domainSize / 5); // coarser mesh, cheaper
  });
});

describe('errors name the parameter', () => {
  it('delta', () => {
    for (const d of [0, -1, 1, NaN]) expect(() => prvEpsilon(H, d)).toThrow(/delta must be in \(0, 1\)/);
  });
  it('history fields, with the index', () => {
    expect(() => prvEpsilon([H[0], { ...H[0], steps: -1 }], 1e-5)).toThrow(/history\[1\]\.steps/);
    expect(() => prvEpsilon([{ ...H[0], steps: 1.5 }], 1e-5)).toThrow(/history\[0\]\.steps/);
    expect(() => prvEpsilon([{ ...H[0], sampleRate: 1.2 }], 1e-5)).toThrow(/history\[0\]\.sampleRate/);
    expect(() => prvEpsilon([{ ...H[0], noiseMultiplier: -1 }], 1e-5)).toThrow(/history\[0\]\.noiseMultiplier/);
  });
  it('options', () => {
    expect(() => prvEpsilon(H, 1e-5, { epsError: 0 })).toThrow(/epsError/);
    expect(() => prvEpsilon(H, 1e-5, { deltaError: 1e-5 })).toThrow(/deltaError/);
    expect(() => prvEpsilon(H, 1e-5, { maxDomainPoints: 1.5 })).toThrow(/maxDomainPoints/);
    expect(() => prvEpsilon(H, 1e-5, { meanBreakpoints: 'v2' as never })).toThrow(/meanBreakpoints/);
  });
});

describe('memory guard', () => {
  it('refuses before allocating when the grid would exceed maxDomainPoints, saying how big and what to do', () => {
    const huge = [{ noiseMultiplier: 0.5, sampleRate: 0.5, steps: 10_000 }]; // Opacus: 5.25e8 points
    expect(() => prvEpsilon(huge, 1e-5)).toThrow(/~525312886 points .* more than maxDomainPoints=16777216.*RDP accountant/);
    expect(DEFAULT_MAX_DOMAIN_POINTS).toBe(2 ** 24);
  });
  it('the limit is configurable, and prvDomain predicts the size for planning', () => {
    const planned = prvDomain(H, 1e-5);
    expect(planned!.domain.size).toBe(32404); // Opacus' domain_size for this case
    expect(() => prvEpsilon(H, 1e-5, { maxDomainPoints: 30_000 })).toThrow(/maxDomainPoints=30000/);
    expect(prvEpsilon(H, 1e-5, { maxDomainPoints: 32_404 }).domainSize).toBe(32404);
  });
});
