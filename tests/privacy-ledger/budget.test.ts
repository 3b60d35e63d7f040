import { describe, expect, it } from 'vitest';
import { createBudget, PrivacyBudget } from '../../privacy/budget.ts';
import { getNoiseMultiplier } from '../../privacy/calibrate.ts';
import { DELTA, accountant } from './helpers.ts';

const budget = createBudget({ epsilonMax: 3, delta: DELTA, accountant });
const eps = (h: { noiseMultiplier: number; sampleRate: number; steps: number }[]) => accountant.epsilon(h, DELTA).epsilon;
const spent = [{ noiseMultiplier: 1.0, sampleRate: 0.01, steps: 500 }];

describe('PrivacyBudget.canSpend', () => {
  it('allows a run that stays under the cap and says what remains after it', () => {
    const plan = { noiseMultiplier: 1.0, sampleRate: 0.01, steps: 500 };
    const d = budget.canSpend(spent, plan);
    expect(d.ok).toBe(true);
    expect(d.epsilonBefore).toBe(eps(spent));
    expect(d.epsilonAfter).toBe(eps([{ noiseMultiplier: 1.0, sampleRate: 0.01, steps: 1000 }])); // merged like the ledger
    expect(d.remaining).toBeCloseTo(3 - d.epsilonAfter, 12);
    expect(d.epsilonAfter).toBeLessThan(3);
  });

  it('refuses a run that would exceed the cap, with the epsilon it would reach; the budget is untouched', () => {
    const plan = { noiseMultiplier: 0.8, sampleRate: 0.05, steps: 2000 };
    const d = budget.canSpend(spent, plan);
    expect(d.ok).toBe(false);
    expect(d.epsilonAfter).toBe(eps([...spent, plan]));
    expect(d.epsilonAfter).toBeGreaterThan(3);
    expect(d.remaining).toBeCloseTo(3 - eps(spent), 12);
    expect(d.reason).toMatch(/over the budget of 3/);
  });

  it('a noiseless run reaches infinity and is refused', () => {
    const d = budget.canSpend([], { noiseMultiplier: 0, sampleRate: 0.01, steps: 1 });
    expect(d).toMatchObject({ ok: false, epsilonAfter: Infinity, remaining: 3 });
  });

  it('an exhausted budget refuses everything and has nothing remaining', () => {
    const heavy = [{ noiseMultiplier: 0.5, sampleRate: 0.1, steps: 5000 }];
    const d = budget.canSpend(heavy, { noiseMultiplier: 100, sampleRate: 0.001, steps: 1 });
    expect(d.ok).toBe(false);
    expect(d.remaining).toBe(0);
  });

  it('names bad input', () => {
    expect(() => new PrivacyBudget({ epsilonMax: 0, delta: DELTA, accountant })).toThrow(/epsilonMax must be/);
    expect(() => new PrivacyBudget({ epsilonMax: 1, delta: 1, accountant })).toThrow(/delta must be in/);
    expect(() => budget.canSpend([], { noiseMultiplier: 1, sampleRate: 0, steps: 1 })).toThrow(/plan\.sampleRate must be in \(0, 1\]/);
    expect(() => budget.canSpend([], { noiseMultiplier: 1, sampleRate: 0.1, steps: 2.5 })).toThrow(/plan\.steps must be a positive integer/);
    expect(() => budget.canSpend([{ noiseMultiplier: -1, sampleRate: 0.1, steps: 1 }], { noiseMultiplier: 1, sampleRate: 0.1, steps: 1 })).toThrow(/history\[0\]\.noiseMultiplier/);
  });
});

describe('PrivacyBudget.planNoiseForBudget', () => {
  it('with no history it agrees with Opacus-style get_noise_multiplier on the same target', () => {
    const p = budget.planNoiseForBudget([], { steps: 1000, sampleRate: 0.01 });
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.noiseMultiplier).toBe(getNoiseMultiplier({ targetEpsilon: 3, delta: DELTA, sampleRate: 0.01, steps: 1000, accountant }));
    expect(p.epsilonAfter).toBeLessThanOrEqual(3);
    expect(3 - p.epsilonAfter).toBeLessThanOrEqual(0.01);
  });

  it('calibrates the whole history plus the new steps to the cap, so the plan passes canSpend', () => {
    const p = budget.planNoiseForBudget(spent, { steps: 1000, sampleRate: 0.01, epsilonTolerance: 0.001 });
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    const plan = { noiseMultiplier: p.noiseMultiplier, sampleRate: 0.01, steps: 1000 };
    const d = budget.canSpend(spent, plan);
    expect(d.ok).toBe(true);
    expect(d.epsilonAfter).toBe(p.epsilonAfter);
    expect(3 - p.epsilonAfter).toBeLessThanOrEqual(0.001);
    // Calibrating as if the history were empty would pick less noise and overrun the cap.
    const naive = getNoiseMultiplier({ targetEpsilon: 3, delta: DELTA, sampleRate: 0.01, steps: 1000, accountant });
    expect(naive).toBeLessThan(p.noiseMultiplier);
    expect(budget.canSpend(spent, { ...plan, noiseMultiplier: naive }).ok).toBe(false);
  });

  it('lands on a lower target when asked', () => {
    const p = budget.planNoiseForBudget(spent, { steps: 200, sampleRate: 0.01, targetEpsilon: 2 });
    expect(p.ok && p.epsilonAfter <= 2 && p.epsilonAfter > 1.99).toBe(true);
    expect(p.ok && p.remaining).toBeCloseTo(3 - (p.ok ? p.epsilonAfter : 0), 12);
  });

  it('refuses when the budget is already spent, or too little remains for any sigma up to 1e6', () => {
    const heavy = [{ noiseMultiplier: 0.5, sampleRate: 0.1, steps: 5000 }];
    const p = budget.planNoiseForBudget(heavy, { steps: 10, sampleRate: 0.01 });
    expect(p).toMatchObject({ ok: false, reason: expect.stringMatching(/budget exhausted/) });
    const tight = createBudget({ epsilonMax: 1e-4, delta: DELTA, accountant });
    expect(tight.planNoiseForBudget([], { steps: 1e6, sampleRate: 1 })).toMatchObject({ ok: false, reason: expect.stringMatching(/too small/) });
  });

  it('names bad input', () => {
    expect(() => budget.planNoiseForBudget([], { steps: 0, sampleRate: 0.01 })).toThrow(/steps must be a positive integer/);
    expect(() => budget.planNoiseForBudget([], { steps: 10, sampleRate: 2 })).toThrow(/sampleRate must be in/);
    expect(() => budget.planNoiseForBudget([], { steps: 10, sampleRate: 0.01, targetEpsilon: 4 })).toThrow(/over the budget's epsilonMax 3/);
  });
});
