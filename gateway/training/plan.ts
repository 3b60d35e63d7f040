/**
 * Planning one local round against the user's lifetime budget (pure): q, steps and the expected
 * batch size with Opacus's semantics, sigma given or calibrated after the spent history, and the
 * decision to run or to skip. design.md: "Training that would exceed it does not run."
 */
import { opacusSampleRate, type MechanismStep, type PrivacyBudget } from '../../privacy/index.ts';
import { checkRoundParameters, type RoundTrainingParameters } from './round-params.ts';

/** Below this many examples a round is skipped by default (a local policy, not a round parameter). */
export const DEFAULT_MIN_EXAMPLES = 32;
/** Opacus's get_noise_multiplier epsilon_tolerance, which planNoiseForBudget uses by default. */
const CALIBRATION_TOLERANCE = 0.01;

export interface PlanRequest {
  /** N: the user's labelled examples available to this round. Local only. */
  numExamples: number;
  round: RoundTrainingParameters;
  budget: PrivacyBudget;
  /** The spent history, from the ledger (LedgerWriter.history). */
  history: readonly MechanismStep[];
  minExamples?: number;
}

export type SkipCode = 'too-few-examples' | 'incompatible-round' | 'over-budget' | 'budget-exhausted';

export interface RunPlan {
  action: 'run';
  sampleRate: number;
  steps: number;
  noiseMultiplier: number;
  noiseSource: 'given' | 'calibrated';
  maxGradNorm: number;
  /** Opacus's expected_batch_size, the divisor of the noisy sum. floor(N q): reveals N, keep local. */
  expectedBatchSize: number;
  epsilonBefore: number;
  /** Cumulative epsilon after the run; the ledger entry will record exactly this. */
  epsilonAfter: number;
  epsilonMax: number;
  /** The cumulative epsilon sigma was calibrated to (calibrated plans only). */
  targetEpsilon?: number;
}

export interface SkipPlan {
  action: 'skip';
  code: SkipCode;
  /** Human-readable; never contains the exact example count. */
  reason: string;
  epsilonBefore: number;
  /** The cumulative epsilon the run would have reached, when that is known (given sigma). */
  epsilonWouldReach?: number;
  epsilonMax: number;
}

export type RoundPlan = RunPlan | SkipPlan;

interface Schedule {
  sampleRate: number;
  stepsPerEpoch: number;
  expectedBatchSize: number;
}

function schedule(n: number, round: RoundTrainingParameters): Schedule {
  if (round.batchSize !== undefined) {
    // make_private: sample rate and expected batch size from the DPDataLoader (opacus.md §1.1).
    // Opacus samples at 1/len(loader) but charges 1/(len-1) in the quirk cases; sampling at the
    // charged rate keeps the charge exact rather than slightly conservative.
    const s = opacusSampleRate(n, round.batchSize);
    return { sampleRate: s.accountantSampleRate, stepsPerEpoch: s.stepsPerEpoch, expectedBatchSize: s.expectedBatchSize };
  }
  const q = round.sampleRate as number;
  // UniformWithReplacementSampler.__len__ = int(1/q); make_private: expected_batch_size = int(N q).
  return { sampleRate: q, stepsPerEpoch: Math.trunc(1 / q), expectedBatchSize: Math.trunc(n * q) };
}

export function planRound(req: PlanRequest): RoundPlan {
  const { numExamples: n, round, budget, history } = req;
  checkRoundParameters(round);
  const minExamples = req.minExamples ?? DEFAULT_MIN_EXAMPLES;
  if (!(Number.isSafeInteger(minExamples) && minExamples >= 1)) throw new RangeError(`minExamples must be a positive integer (got ${minExamples})`);
  if (!(Number.isSafeInteger(n) && n >= 0)) throw new RangeError(`numExamples must be a non-negative integer (got ${n})`);

  const epsilonBefore = budget.epsilonSpent(history);
  const skip = (code: SkipCode, reason: string, epsilonWouldReach?: number): SkipPlan => ({
    action: 'skip',
    code,
    reason,
    epsilonBefore,
    epsilonMax: budget.epsilonMax,
    ...(epsilonWouldReach === undefined ? {} : { epsilonWouldReach }),
  });

  if (round.accountant !== budget.accountant.name) {
    return skip('incompatible-round', `the round requires the ${round.accountant} accountant, this user's budget and ledger use ${budget.accountant.name}`);
  }
  // The ledger accounts at the budget's delta; epsilon at a smaller delta is larger, so meeting the
  // round's epsilon there also meets it at the round's delta. The converse cannot be certified.
  if (budget.delta > round.delta) {
    return skip('incompatible-round', `the round requires delta ${round.delta}, this user's budget accounts at the larger delta ${budget.delta}`);
  }
  if (n < minExamples) return skip('too-few-examples', `fewer than ${minExamples} labelled examples`);

  const s = schedule(n, round);
  if (s.expectedBatchSize < 1) return skip('too-few-examples', `too few labelled examples for sample rate ${s.sampleRate} (expected batch below 1)`);
  const steps = round.steps ?? Math.trunc((round.epochs as number) * s.stepsPerEpoch);
  if (steps < 1) return skip('too-few-examples', `${round.epochs} epochs of ${s.stepsPerEpoch} steps is less than one step`);
  const base = { action: 'run' as const, sampleRate: s.sampleRate, steps, maxGradNorm: round.maxGradNorm, expectedBatchSize: s.expectedBatchSize, epsilonMax: budget.epsilonMax };

  if (round.noiseMultiplier !== undefined) {
    const d = budget.canSpend(history, { steps, sampleRate: s.sampleRate, noiseMultiplier: round.noiseMultiplier });
    if (!d.ok) return skip('over-budget', d.reason ?? `epsilon would reach ${d.epsilonAfter}, over ${budget.epsilonMax}`, d.epsilonAfter);
    return { ...base, noiseMultiplier: round.noiseMultiplier, noiseSource: 'given', epsilonBefore, epsilonAfter: d.epsilonAfter };
  }

  // make_private_with_epsilon against the lifetime history (budget-calibrate.ts): history + run at
  // or just under the target, never over the cap.
  const targetEpsilon = Math.min(epsilonBefore + (round.epsilonPerRound as number), budget.epsilonMax);
  // Opacus's bisection stops anywhere within epsilon_tolerance under the target, so a gap that small
  // is already spent as far as calibration can tell; any sigma up to 1e6 would "fit" and the update
  // would be noise. Skip instead.
  if (targetEpsilon - epsilonBefore <= CALIBRATION_TOLERANCE) {
    return skip('budget-exhausted', `remaining budget ${budget.epsilonMax - epsilonBefore} is within the calibration tolerance ${CALIBRATION_TOLERANCE}`);
  }
  const p = budget.planNoiseForBudget(history, { steps, sampleRate: s.sampleRate, targetEpsilon, epsilonTolerance: CALIBRATION_TOLERANCE });
  if (!p.ok) return skip('budget-exhausted', p.reason);
  return { ...base, noiseMultiplier: p.noiseMultiplier, noiseSource: 'calibrated', epsilonBefore, epsilonAfter: p.epsilonAfter, targetEpsilon };
}
