import { describe, expect, it } from 'vitest';
import { planRound, checkRoundParameters } from '../../gateway/training/index.ts';
import { createBudget, rdpAccountant, type MechanismStep } from '../../privacy/index.ts';
import { DELTA, budget, roundParams } from './helpers.ts';

describe('planRound: schedule with Opacus semantics', () => {
  it('turns a batch size into q, steps per epoch and expected batch as make_private does (quirk N=5952, B=64)', () => {
    // opacus.md §1.1: loader q = 1/93, accountant q = 1/92, expected batch int(5952/92) = 64.
    const plan = planRound({ numExamples: 5952, round: roundParams({ sampleRate: undefined, batchSize: 64, steps: undefined, epochs: 2, noiseMultiplier: 1.1 }), budget: budget(50), history: [] });
    expect(plan.action).toBe('run');
    if (plan.action !== 'run') return;
    expect(plan.sampleRate).toBe(1 / 92);
    expect(plan.steps).toBe(184);
    expect(plan.expectedBatchSize).toBe(64);
    expect(plan.noiseSource).toBe('given');
  });

  it('with a sample rate: an epoch is int(1/q) steps and the expected batch is int(N q)', () => {
    const plan = planRound({ numExamples: 1001, round: roundParams({ sampleRate: 0.03, steps: undefined, epochs: 1.5, noiseMultiplier: 1 }), budget: budget(50), history: [] });
    if (plan.action !== 'run') throw new Error(`expected a run, got ${plan.reason}`);
    expect(plan.steps).toBe(Math.trunc(1.5 * 33));
    expect(plan.expectedBatchSize).toBe(30);
  });

  it('epsilonAfter of a given sigma is the budget canSpend epsilon of history + run', () => {
    const b = budget(20);
    const history: MechanismStep[] = [{ noiseMultiplier: 1.2, sampleRate: 0.05, steps: 100 }];
    const plan = planRound({ numExamples: 1000, round: roundParams({ noiseMultiplier: 1.0 }), budget: b, history });
    if (plan.action !== 'run') throw new Error(plan.reason);
    const d = b.canSpend(history, { steps: 200, sampleRate: 0.05, noiseMultiplier: 1.0 });
    expect(plan.epsilonAfter).toBe(d.epsilonAfter);
    expect(plan.epsilonBefore).toBe(b.epsilonSpent(history));
  });
});

describe('planRound: calibration against the lifetime history', () => {
  it('calibrates sigma so history + run lands at (just under) epsilonBefore + epsilonPerRound', () => {
    const b = budget(10);
    const history: MechanismStep[] = [{ noiseMultiplier: 1.1, sampleRate: 0.05, steps: 300 }];
    const before = b.epsilonSpent(history);
    const plan = planRound({ numExamples: 1000, round: roundParams({ epsilonPerRound: 1 }), budget: b, history });
    if (plan.action !== 'run') throw new Error(plan.reason);
    expect(plan.noiseSource).toBe('calibrated');
    expect(plan.targetEpsilon).toBe(before + 1);
    expect(plan.epsilonAfter).toBeLessThanOrEqual(before + 1);
    expect(plan.epsilonAfter).toBeGreaterThan(before + 1 - 0.011);
    // What the ledger will record for this spend is the same number.
    expect(b.canSpend(history, { steps: plan.steps, sampleRate: plan.sampleRate, noiseMultiplier: plan.noiseMultiplier }).epsilonAfter).toBe(plan.epsilonAfter);
  });

  it('caps the target at the remaining budget', () => {
    const b = budget(2);
    const plan = planRound({ numExamples: 1000, round: roundParams({ epsilonPerRound: 5 }), budget: b, history: [] });
    if (plan.action !== 'run') throw new Error(plan.reason);
    expect(plan.targetEpsilon).toBe(2);
    expect(plan.epsilonAfter).toBeLessThanOrEqual(2);
  });

  it('skips with budget-exhausted once the history has spent the cap', () => {
    const b = budget(1);
    const history: MechanismStep[] = [{ noiseMultiplier: 0.8, sampleRate: 0.05, steps: 2000 }];
    expect(b.epsilonSpent(history)).toBeGreaterThan(1);
    const plan = planRound({ numExamples: 1000, round: roundParams(), budget: b, history });
    expect(plan).toMatchObject({ action: 'skip', code: 'budget-exhausted', epsilonMax: 1 });
  });
});

describe('planRound: skips', () => {
  it('a given sigma that would exceed the budget is skipped with the epsilon it would reach', () => {
    const b = budget(1);
    const plan = planRound({ numExamples: 1000, round: roundParams({ noiseMultiplier: 0.6 }), budget: b, history: [] });
    expect(plan.action).toBe('skip');
    if (plan.action !== 'skip') return;
    expect(plan.code).toBe('over-budget');
    const wouldReach = b.canSpend([], { steps: 200, sampleRate: 0.05, noiseMultiplier: 0.6 }).epsilonAfter;
    expect(plan.epsilonWouldReach).toBe(wouldReach);
    expect(wouldReach).toBeGreaterThan(1);
    expect(plan.reason).toMatch(/over the budget of 1/);
  });

  it('too few examples is skipped, and the reason does not reveal the exact count', () => {
    const plan = planRound({ numExamples: 17, round: roundParams(), budget: budget(5), history: [] });
    expect(plan).toMatchObject({ action: 'skip', code: 'too-few-examples' });
    if (plan.action === 'skip') expect(plan.reason).not.toMatch(/17/);
    const tiny = planRound({ numExamples: 40, round: roundParams({ sampleRate: 0.01 }), budget: budget(5), history: [] });
    expect(tiny).toMatchObject({ action: 'skip', code: 'too-few-examples' });
  });

  it('a round whose accountant or delta the user budget cannot certify is skipped', () => {
    expect(planRound({ numExamples: 1000, round: roundParams({ accountant: 'prv' }), budget: budget(5), history: [] })).toMatchObject({ action: 'skip', code: 'incompatible-round' });
    const loose = createBudget({ epsilonMax: 5, delta: 1e-4, accountant: rdpAccountant });
    expect(planRound({ numExamples: 1000, round: roundParams({ delta: DELTA }), budget: loose, history: [] })).toMatchObject({ action: 'skip', code: 'incompatible-round' });
    // A stricter budget delta than the round's is fine.
    expect(planRound({ numExamples: 1000, round: roundParams({ delta: 1e-3, noiseMultiplier: 1 }), budget: budget(50), history: [] }).action).toBe('run');
  });
});

describe('checkRoundParameters', () => {
  it.each([
    [{ noiseMultiplier: 1 }, /exactly one of noiseMultiplier and epsilonPerRound/],
    [{ batchSize: 32 }, /exactly one of sampleRate and batchSize/],
    [{ epochs: 1 }, /exactly one of steps and epochs/],
    [{ lr: 0 }, /round\.lr must be a finite number > 0/],
    [{ mu: 25 }, /round\.mu must be below 2\/lr/],
    [{ momentum: 0.9, optimizer: 'adam' as const }, /momentum applies to sgd only/],
    [{ round: -1 }, /round\.round must be a non-negative integer/],
  ])('refuses %o', (over, re) => {
    expect(() => checkRoundParameters({ ...roundParams(), ...over })).toThrow(re);
  });
});
