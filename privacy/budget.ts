/**
 * Per-user privacy budgets: epsilon_max at a fixed delta over the gateway's whole life
 * (design.md, "Privacy semantics": "Training that would exceed it does not run. Inference goes on.").
 * Pure: the history comes in (from the ledger: LedgerWriter.history or historyFromEntries), a
 * decision goes out. The ledger writer enforces the same cap again at the moment of release.
 */
import { DEFAULT_EPSILON_TOLERANCE, calibrateNoiseAfterHistory } from './budget-calibrate.ts';
import { historyOf } from './ledger/chain.ts';
import type { Accountant, MechanismStep } from './types.ts';

export interface BudgetConfig {
  epsilonMax: number;
  delta: number;
  accountant: Accountant;
}

/** One planned run of DP-SGD. */
export interface SpendPlan {
  steps: number;
  sampleRate: number;
  noiseMultiplier: number;
}

export interface SpendDecision {
  ok: boolean;
  /** Epsilon of the history alone. */
  epsilonBefore: number;
  /** Epsilon the history plus the plan would reach (also when refused: that is why). */
  epsilonAfter: number;
  epsilonMax: number;
  /** Budget left: after the plan if ok, as it stands (untouched) if refused. Never negative. */
  remaining: number;
  reason?: string;
}

export interface NoisePlanRequest {
  steps: number;
  sampleRate: number;
  /** Where to land epsilon after the run; defaults to (and may not exceed) epsilonMax. */
  targetEpsilon?: number;
  /** Calibration slack below the target (Opacus's epsilon_tolerance, default 0.01). */
  epsilonTolerance?: number;
}

export type NoisePlan =
  | { ok: true; noiseMultiplier: number; steps: number; sampleRate: number; epsilonBefore: number; epsilonAfter: number; targetEpsilon: number; remaining: number }
  | { ok: false; epsilonBefore: number; targetEpsilon: number; reason: string };

export class PrivacyBudget {
  readonly epsilonMax: number;
  readonly delta: number;
  readonly accountant: Accountant;

  constructor(config: BudgetConfig) {
    if (!(Number.isFinite(config.epsilonMax) && config.epsilonMax > 0)) throw new RangeError(`budget epsilonMax must be a finite number > 0, got ${config.epsilonMax}`);
    if (!(config.delta > 0 && config.delta < 1)) throw new RangeError(`budget delta must be in (0, 1), got ${config.delta}`);
    if (!config.accountant || typeof config.accountant.epsilon !== 'function') throw new TypeError('budget accountant must implement Accountant');
    this.epsilonMax = config.epsilonMax;
    this.delta = config.delta;
    this.accountant = config.accountant;
  }

  /** Epsilon spent so far by `history`, at the budget's delta. */
  epsilonSpent(history: readonly MechanismStep[]): number {
    checkHistory(history);
    return history.length === 0 ? 0 : this.accountant.epsilon(historyOf(history), this.delta).epsilon;
  }

  /** Would running `plan` after `history` stay within epsilonMax? A run that would exceed it is refused. */
  canSpend(history: readonly MechanismStep[], plan: SpendPlan): SpendDecision {
    checkStep(plan, 'plan');
    const epsilonBefore = this.epsilonSpent(history);
    // historyOf merges like the ledger does, so this epsilon is bit-identical to the epsilonAfter the
    // ledger will record for the same spend.
    const epsilonAfter = this.accountant.epsilon(historyOf([...history, plan]), this.delta).epsilon;
    const base = { epsilonBefore, epsilonAfter, epsilonMax: this.epsilonMax };
    if (epsilonAfter <= this.epsilonMax) return { ok: true, ...base, remaining: this.epsilonMax - epsilonAfter };
    return {
      ok: false,
      ...base,
      remaining: Math.max(0, this.epsilonMax - epsilonBefore),
      reason: `epsilon would reach ${epsilonAfter} (${this.accountant.name}, delta ${this.delta}), over the budget of ${this.epsilonMax}`,
    };
  }

  /**
   * make_private_with_epsilon for a lifetime budget: the smallest sigma such that `steps` more steps
   * at `sampleRate`, after `history`, end at or just under the target (default: the cap).
   */
  planNoiseForBudget(history: readonly MechanismStep[], request: NoisePlanRequest): NoisePlan {
    checkPositiveInt(request.steps, 'steps');
    checkRate(request.sampleRate, 'sampleRate');
    const targetEpsilon = request.targetEpsilon ?? this.epsilonMax;
    if (!(targetEpsilon > 0)) throw new RangeError(`targetEpsilon must be > 0, got ${targetEpsilon}`);
    if (targetEpsilon > this.epsilonMax) throw new RangeError(`targetEpsilon ${targetEpsilon} is over the budget's epsilonMax ${this.epsilonMax}`);
    const tolerance = request.epsilonTolerance ?? DEFAULT_EPSILON_TOLERANCE;
    if (!(tolerance > 0)) throw new RangeError(`epsilonTolerance must be > 0, got ${tolerance}`);
    const epsilonBefore = this.epsilonSpent(history);
    if (epsilonBefore >= targetEpsilon) {
      return { ok: false, epsilonBefore, targetEpsilon, reason: `budget exhausted: ${epsilonBefore} already spent, target ${targetEpsilon}` };
    }
    const found = calibrateNoiseAfterHistory({
      history,
      steps: request.steps,
      sampleRate: request.sampleRate,
      targetEpsilon,
      delta: this.delta,
      accountant: this.accountant,
      epsilonTolerance: tolerance,
    });
    if (!found) {
      return { ok: false, epsilonBefore, targetEpsilon, reason: `remaining budget ${targetEpsilon - epsilonBefore} is too small for ${request.steps} steps at sample rate ${request.sampleRate} (would need sigma > 1e6)` };
    }
    return {
      ok: true,
      noiseMultiplier: found.noiseMultiplier,
      steps: request.steps,
      sampleRate: request.sampleRate,
      epsilonBefore,
      epsilonAfter: found.epsilon,
      targetEpsilon,
      remaining: this.epsilonMax - found.epsilon,
    };
  }
}

export function createBudget(config: BudgetConfig): PrivacyBudget {
  return new PrivacyBudget(config);
}

function checkHistory(history: readonly MechanismStep[]): void {
  if (!Array.isArray(history)) throw new TypeError('history must be an array of {noiseMultiplier, sampleRate, steps}');
  history.forEach((s, i) => checkStep(s, `history[${i}]`));
}

function checkStep(s: MechanismStep, where: string): void {
  // sigma = 0 is a valid question (no noise); the accountant answers it with epsilon = infinity.
  if (!(Number.isFinite(s.noiseMultiplier) && s.noiseMultiplier >= 0)) throw new RangeError(`${where}.noiseMultiplier must be a finite number >= 0, got ${s.noiseMultiplier}`);
  checkRate(s.sampleRate, `${where}.sampleRate`);
  checkPositiveInt(s.steps, `${where}.steps`);
}

function checkRate(q: number, name: string): void {
  if (!(q > 0 && q <= 1)) throw new RangeError(`${name} must be in (0, 1], got ${q}`);
}

function checkPositiveInt(n: number, name: string): void {
  if (!(Number.isSafeInteger(n) && n > 0)) throw new RangeError(`${name} must be a positive integer, got ${n}`);
}
