/**
 * Rényi-DP accountant for the Poisson-subsampled Gaussian mechanism, a port of Opacus v1.4.0
 * (opacus/accountants/rdp.py `RDPAccountant`, opacus/accountants/analysis/rdp.py) that reproduces its
 * epsilons and best orders (tests/privacy/rdp.test.ts, against shared/vectors/opacus-rdp-epsilon.json).
 *
 * Analysis: Mironov, Talwar, Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian
 * Mechanism" (arXiv 1908.10530), sec. 3.3; conversion to (epsilon, delta): Balle et al. 2020,
 * "Hypothesis testing interpretations and Rényi differential privacy", Theorem 21.
 */
import type { Accountant, EpsilonReport, MechanismStep } from './types.ts';
import { binomialSmallK, logBinomialExact, logErfc } from './special-functions.ts';
import { logAdd, logSub } from './log-space.ts';

/**
 * Opacus `RDPAccountant.DEFAULT_ALPHAS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))`,
 * built with the same expression so every order is the same double: 1.1 ... 10.9, then 12 ... 63
 * (151 orders; 11 is absent, as in Opacus). 2.0 ... 10.0 come out integral and take the integer branch.
 */
export const DEFAULT_ALPHAS: readonly number[] = Object.freeze(
  (() => {
    const alphas: number[] = [];
    for (let x = 1; x < 100; x++) alphas.push(1 + x / 10.0);
    for (let a = 12; a < 64; a++) alphas.push(a);
    return alphas;
  })(),
);

/** Opacus `_compute_log_a_for_int_alpha`: log A_alpha as a finite sum (Mironov et al. 2019, sec. 3.3). */
function logAIntegerAlpha(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log(1 - q);
  const twoSigmaSq = 2 * (sigma * sigma);
  let logA = -Infinity;
  for (let i = 0; i <= alpha; i++) {
    // scipy.special.binom(alpha, i) is exact or within an ulp here (alpha <= 63); the exact integer
    // binomial, rounded once, is at least as good.
    const logCoef = logBinomialExact(alpha, i) + i * logQ + (alpha - i) * log1mQ;
    const s = logCoef + (i * i - i) / twoSigmaSq;
    logA = logAdd(logA, s);
  }
  return logA;
}

/**
 * Opacus `_compute_log_a_for_frac_alpha`: the signed series of TF-Privacy, with `_log_sub` for the
 * negative generalised binomial coefficients and the absolute stop `max(log_s0, log_s1) < -30` after
 * adding term i (no iteration cap, as in Opacus). See shared/notes/opacus.md §2.1.
 */
function logAFractionalAlpha(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const sigmaSq = sigma * sigma;
  const z0 = sigmaSq * Math.log(1 / q - 1) + 0.5;
  const logQ = Math.log(q);
  const log1mQ = Math.log(1 - q);
  const sqrt2Sigma = Math.SQRT2 * sigma;
  const twoSigmaSq = 2 * sigmaSq;
  const LOG_HALF = Math.log(0.5);
  let coef = 1;
  for (let i = 0; ; i++) {
    // scipy.special.binom(alpha, i): its multiplication formula below 20, then the exact recurrence
    // C(a, i) = C(a, i-1) (a - i + 1) / i (relative error ~ sqrt(i) ulp, far below the 1e-8 target).
    coef = i < 20 ? binomialSmallK(alpha, i) : (coef * (alpha - i + 1)) / i;
    const logCoef = Math.log(Math.abs(coef));
    const j = alpha - i;
    const logT0 = logCoef + i * logQ + j * log1mQ;
    const logT1 = logCoef + j * logQ + i * log1mQ;
    const logE0 = LOG_HALF + logErfc((i - z0) / sqrt2Sigma);
    const logE1 = LOG_HALF + logErfc((z0 - j) / sqrt2Sigma);
    const logS0 = logT0 + (i * i - i) / twoSigmaSq + logE0;
    const logS1 = logT1 + (j * j - j) / twoSigmaSq + logE1;
    if (coef > 0) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < -30) break;
  }
  return logAdd(logA0, logA1);
}

/** Opacus `_compute_rdp(q, sigma, alpha)`: RDP of one step at one order. */
function rdpOneStep(q: number, sigma: number, alpha: number): number {
  if (q === 0) return 0;
  if (sigma === 0) return Infinity;
  if (q === 1.0) return alpha / (2 * (sigma * sigma));
  if (alpha === Infinity) return Infinity;
  const logA = Number.isInteger(alpha) ? logAIntegerAlpha(q, sigma, alpha) : logAFractionalAlpha(q, sigma, alpha);
  return logA / (alpha - 1);
}

function checkOrders(orders: readonly number[]): void {
  if (orders.length === 0) throw new RangeError('orders must not be empty');
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k];
    if (!(a > 1)) throw new RangeError(`orders[${k}] must be > 1 (got ${a})`);
  }
}

function checkStep(q: number, sigma: number, steps: number, where: string): void {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`${where}sampleRate must be in [0, 1] (got ${q})`);
  if (!(sigma >= 0) || !Number.isFinite(sigma)) throw new RangeError(`${where}noiseMultiplier must be finite and >= 0 (got ${sigma})`);
  if (!Number.isSafeInteger(steps) || steps < 0) throw new RangeError(`${where}steps must be a non-negative integer (got ${steps})`);
}

// The per-step curve depends on (q, sigma, orders) only; a gateway's history repeats the same few
// pairs, so a small cache (default orders only) keeps composition over long histories cheap.
const perStepCache = new Map<number, Map<number, Float64Array>>();
let perStepCacheSize = 0;
const PER_STEP_CACHE_LIMIT = 512;

/** Empties the per-step RDP cache (benchmarks measure the uncached cost with it). */
export function clearRdpCache(): void {
  perStepCache.clear();
  perStepCacheSize = 0;
}

function perStepRdp(q: number, sigma: number, orders: readonly number[]): Float64Array {
  const cacheable = orders === DEFAULT_ALPHAS;
  if (cacheable) {
    const hit = perStepCache.get(q)?.get(sigma);
    if (hit) return hit;
  }
  const out = new Float64Array(orders.length);
  for (let k = 0; k < orders.length; k++) out[k] = rdpOneStep(q, sigma, orders[k]);
  if (cacheable) {
    if (perStepCacheSize >= PER_STEP_CACHE_LIMIT) clearRdpCache();
    let byQ = perStepCache.get(q);
    if (!byQ) perStepCache.set(q, (byQ = new Map()));
    byQ.set(sigma, out);
    perStepCacheSize++;
  }
  return out;
}

/**
 * Opacus `compute_rdp(q, noise_multiplier, steps, orders)`: RDP of `steps` compositions of the
 * Poisson-subsampled Gaussian, at each order (`steps * [_compute_rdp(q, sigma, a) for a in orders]`).
 */
export function computeRdp(q: number, noiseMultiplier: number, steps: number, orders: readonly number[] = DEFAULT_ALPHAS): Float64Array {
  checkStep(q, noiseMultiplier, steps, '');
  checkOrders(orders);
  const perStep = perStepRdp(q, noiseMultiplier, orders);
  const out = new Float64Array(orders.length);
  for (let k = 0; k < orders.length; k++) out[k] = perStep[k] * steps;
  return out;
}

/**
 * Total RDP of a history of run-length entries: the sum of `computeRdp` over the entries, in order
 * (Opacus `RDPAccountant.get_privacy_spent`, `sum([compute_rdp(...) for ... in self.history])`).
 */
export function composeRdp(history: readonly MechanismStep[], orders: readonly number[] = DEFAULT_ALPHAS): Float64Array {
  checkOrders(orders);
  const total = new Float64Array(orders.length);
  history.forEach((h, n) => {
    checkStep(h.sampleRate, h.noiseMultiplier, h.steps, `history[${n}].`);
    const perStep = perStepRdp(h.sampleRate, h.noiseMultiplier, orders);
    for (let k = 0; k < orders.length; k++) total[k] += perStep[k] * h.steps;
  });
  return total;
}

export interface RdpConversion {
  epsilon: number;
  /** The order at which the bound is tightest (NaN when every order gave NaN). */
  order: number;
  orderIndex: number;
  /** Opacus logs "Optimal order is the smallest/largest alpha" here: more orders could give a tighter bound. */
  atBoundary?: 'smallest' | 'largest';
}

/**
 * Opacus `analysis/rdp.py:get_privacy_spent(orders, rdp, delta)` (Balle et al. 2020, Theorem 21;
 * the same bound as Canonne, Kamath, Steinke 2020, Prop. 12):
 *   eps(alpha) = rdp(alpha) - (log(delta) + log(alpha)) / (alpha - 1) + log((alpha - 1) / alpha),
 * minimised over the orders ignoring NaN (np.nanargmin: first minimum wins). No clamping at 0.
 */
export function rdpToEpsilon(orders: readonly number[], rdp: ArrayLike<number>, delta: number): RdpConversion {
  checkOrders(orders);
  if (rdp.length !== orders.length) throw new RangeError(`rdp must have one value per order (${orders.length}), got ${rdp.length}`);
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1) (got ${delta})`);
  const logDelta = Math.log(delta);
  let best = NaN;
  let bestIndex = -1;
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k];
    const eps = rdp[k] - (logDelta + Math.log(a)) / (a - 1) + Math.log((a - 1) / a);
    if (Number.isNaN(eps)) continue;
    if (bestIndex < 0 || eps < best) {
      best = eps;
      bestIndex = k;
    }
  }
  if (bestIndex < 0) return { epsilon: Infinity, order: NaN, orderIndex: -1 };
  const result: RdpConversion = { epsilon: best, order: orders[bestIndex], orderIndex: bestIndex };
  if (bestIndex === 0) result.atBoundary = 'smallest';
  else if (bestIndex === orders.length - 1) result.atBoundary = 'largest';
  return result;
}

/** Epsilon of a whole history with the order that achieved it. An empty history has spent nothing (Opacus returns (0, 0)). */
export function rdpEpsilon(history: readonly MechanismStep[], delta: number, orders: readonly number[] = DEFAULT_ALPHAS): RdpConversion {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1) (got ${delta})`);
  if (history.length === 0) return { epsilon: 0, order: NaN, orderIndex: -1 };
  return rdpToEpsilon(orders, composeRdp(history, orders), delta);
}

/** An RDP accountant over a given set of orders (Opacus's 151 by default: use those to get Opacus's numbers). */
export function createRdpAccountant(orders: readonly number[] = DEFAULT_ALPHAS): Accountant {
  checkOrders(orders);
  return {
    name: 'rdp',
    epsilon(history: readonly MechanismStep[], delta: number): EpsilonReport {
      const r = rdpEpsilon(history, delta, orders);
      const report: EpsilonReport = { epsilon: r.epsilon, delta, accountant: 'rdp' };
      if (r.orderIndex >= 0) report.order = r.order;
      return report;
    },
  };
}

/** Opacus's RDPAccountant with DEFAULT_ALPHAS. */
export const rdpAccountant: Accountant = createRdpAccountant();
