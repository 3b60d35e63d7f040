/** The announced training parameters keep every user within the budget over all rounds. */
import { describe, expect, it } from 'vitest';
import { planTraining } from '../../demo/index.ts';
import { rdpAccountant } from '../../privacy/index.ts';

describe('planTraining', () => {
  it('calibrates sigma so that R rounds stay within the budget and R + 1 would not', () => {
    for (const [rounds, budget] of [[5, 8], [3, 2], [10, 8]] as const) {
      const p = planTraining({ rounds, epsilonBudget: budget, delta: 1e-5, nonPrivate: false });
      const eps = (r: number): number => rdpAccountant.epsilon([{ noiseMultiplier: p.noiseMultiplier, sampleRate: p.sampleRate, steps: r * p.steps }], 1e-5).epsilon;
      expect(eps(rounds)).toBeLessThanOrEqual(budget);
      expect(eps(rounds)).toBeCloseTo(p.epsilonAfterAllRounds, 12);
      expect(eps(rounds)).toBeGreaterThan(budget - 0.05);
      expect(eps(rounds + 1)).toBeGreaterThan(budget);
      expect(p.epsilonMax).toBe(budget);
    }
  });

  it('the non-private plan has negligible noise, the same clipping, and a budget that stops the gateways after R rounds', () => {
    const priv = planTraining({ rounds: 5, epsilonBudget: 8, delta: 1e-5, nonPrivate: false });
    const p = planTraining({ rounds: 5, epsilonBudget: 8, delta: 1e-5, nonPrivate: true });
    expect(p.noiseMultiplier).toBeLessThan(1e-5);
    expect(p.maxGradNorm).toBe(priv.maxGradNorm);
    const eps6 = rdpAccountant.epsilon([{ noiseMultiplier: p.noiseMultiplier, sampleRate: p.sampleRate, steps: 6 * p.steps }], 1e-5).epsilon;
    expect(p.epsilonAfterAllRounds).toBeLessThanOrEqual(p.epsilonMax);
    expect(eps6).toBeGreaterThan(p.epsilonMax);
  });
});
