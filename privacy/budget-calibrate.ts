/**
 * Calibrating sigma against a history that is already spent: the smallest noise multiplier (on
 * Opacus's bisection grid) whose run, composed after `history`, keeps epsilon at or under the target.
 *
 * Opacus's get_noise_multiplier (ported in calibrate.ts) calibrates a fresh accountant: history =
 * [the new run]. A lifetime budget must count what was spent before, so the accountant handed to it
 * here sees the spent history followed by the candidate run (make_private_with_epsilon on an
 * accountant that already has history only warns, shared/notes/opacus.md §1.8; here it is counted).
 */
import { calibrateNoiseMultiplier, MAX_SIGMA } from './calibrate.ts';
import { historyOf } from './ledger/chain.ts';
import type { Accountant, MechanismStep } from './types.ts';

export { MAX_SIGMA };
/** Opacus's default epsilon_tolerance. */
export const DEFAULT_EPSILON_TOLERANCE = 0.01;

export interface CalibrationRequest {
  history: readonly MechanismStep[];
  steps: number;
  sampleRate: number;
  targetEpsilon: number;
  delta: number;
  accountant: Accountant;
  epsilonTolerance?: number;
}

/** An accountant that charges `spent` before whatever history it is asked about. */
export function afterHistory(accountant: Accountant, spent: readonly MechanismStep[]): Accountant {
  return {
    name: accountant.name,
    // historyOf merges like the ledger, so the calibrated epsilon equals what the ledger will record.
    epsilon: (history, delta) => accountant.epsilon(historyOf([...spent, ...history]), delta),
  };
}

/** Returns {noiseMultiplier, epsilon} with epsilon <= targetEpsilon, or null if no sigma up to MAX_SIGMA gets there. */
export function calibrateNoiseAfterHistory(req: CalibrationRequest): { noiseMultiplier: number; epsilon: number } | null {
  try {
    const r = calibrateNoiseMultiplier({
      targetEpsilon: req.targetEpsilon,
      delta: req.delta,
      sampleRate: req.sampleRate,
      steps: req.steps,
      accountant: afterHistory(req.accountant, req.history),
      epsilonTolerance: req.epsilonTolerance ?? DEFAULT_EPSILON_TOLERANCE,
    });
    return { noiseMultiplier: r.noiseMultiplier, epsilon: r.epsilon };
  } catch (err) {
    // Opacus's own wording for "no sigma <= MAX_SIGMA reaches the target"; anything else is a real error.
    if (err instanceof RangeError && /privacy budget is too low/.test(err.message)) return null;
    throw err;
  }
}
