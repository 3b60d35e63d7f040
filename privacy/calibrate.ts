/**
 * Noise calibration: the smallest noise multiplier (on Opacus's bisection grid) whose epsilon after
 * the planned training stays below a target. A port of Opacus v1.4.0
 * opacus/accountants/utils.py `get_noise_multiplier`, with the accountant passed in.
 */
import type { Accountant } from './types.ts';

/** Opacus `MAX_SIGMA` (opacus/accountants/utils.py). */
export const MAX_SIGMA = 1e6;

export interface NoiseMultiplierRequest {
  targetEpsilon: number;
  delta: number;
  sampleRate: number;
  /** Number of steps; give this or `epochs`. */
  steps?: number;
  /** Epochs; steps = int(epochs / sampleRate) as in Opacus (truncation, not rounding). */
  epochs?: number;
  accountant: Accountant;
  /** Stop when the epsilon at the returned sigma is within this of the target (Opacus default 0.01). */
  epsilonTolerance?: number;
}

export interface NoiseMultiplierResult {
  noiseMultiplier: number;
  /** Epsilon of the returned noise multiplier (always <= targetEpsilon). */
  epsilon: number;
  steps: number;
  /** Number of accountant evaluations spent. */
  evaluations: number;
}

/**
 * Opacus `get_noise_multiplier`:
 *   eps_high = inf; sigma_low, sigma_high = 0, 10
 *   while eps_high > target: sigma_high *= 2; eps_high = eps(sigma_high); if sigma_high > MAX_SIGMA: raise
 *   while target - eps_high > tolerance: bisect, keeping eps(sigma_high) < target
 *   return sigma_high
 * The first probe is sigma = 20, never 10; the result is a dyadic fraction of 20.
 */
export function calibrateNoiseMultiplier(req: NoiseMultiplierRequest): NoiseMultiplierResult {
  const { targetEpsilon, delta, sampleRate, accountant } = req;
  const tolerance = req.epsilonTolerance ?? 0.01;
  if (!(targetEpsilon > 0) || !Number.isFinite(targetEpsilon)) throw new RangeError(`targetEpsilon must be finite and > 0 (got ${targetEpsilon})`);
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1) (got ${delta})`);
  if (!(sampleRate > 0 && sampleRate <= 1)) throw new RangeError(`sampleRate must be in (0, 1] (got ${sampleRate})`);
  if (!(tolerance > 0) || !Number.isFinite(tolerance)) throw new RangeError(`epsilonTolerance must be finite and > 0 (got ${tolerance})`);
  let steps: number;
  if (req.steps !== undefined) {
    if (req.epochs !== undefined) throw new RangeError('give either steps or epochs, not both');
    steps = req.steps;
  } else if (req.epochs !== undefined) {
    if (!(req.epochs > 0) || !Number.isFinite(req.epochs)) throw new RangeError(`epochs must be finite and > 0 (got ${req.epochs})`);
    steps = Math.trunc(req.epochs / sampleRate);
  } else {
    throw new RangeError('steps or epochs is required');
  }
  if (!Number.isSafeInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer (got ${steps})`);

  let evaluations = 0;
  const epsAt = (sigma: number): number => {
    evaluations++;
    return accountant.epsilon([{ noiseMultiplier: sigma, sampleRate, steps }], delta).epsilon;
  };

  let epsHigh = Infinity;
  let sigmaLow = 0;
  let sigmaHigh = 10;
  while (epsHigh > targetEpsilon) {
    sigmaHigh = 2 * sigmaHigh;
    epsHigh = epsAt(sigmaHigh);
    if (sigmaHigh > MAX_SIGMA) throw new RangeError('The privacy budget is too low.');
  }
  while (targetEpsilon - epsHigh > tolerance) {
    const sigma = (sigmaLow + sigmaHigh) / 2;
    // Opacus would loop forever if epsilon jumped over the tolerance band; stop once bisection stalls.
    if (sigma === sigmaLow || sigma === sigmaHigh) throw new RangeError('noise calibration did not converge: epsilon is not continuous in the noise multiplier near the target');
    const eps = epsAt(sigma);
    if (eps < targetEpsilon) {
      sigmaHigh = sigma;
      epsHigh = eps;
    } else {
      sigmaLow = sigma;
    }
  }
  return { noiseMultiplier: sigmaHigh, epsilon: epsHigh, steps, evaluations };
}

/** The Opacus-shaped call: returns the noise multiplier only. */
export function getNoiseMultiplier(req: NoiseMultiplierRequest): number {
  return calibrateNoiseMultiplier(req).noiseMultiplier;
}
