/**
 * The PRV accountant: epsilon of a DP-SGD history by numerical composition of privacy loss random
 * variables (Gopi, Lee, Wutschitz 2021, arXiv 2106.02848), equal to Opacus' `PRVAccountant`
 * (opacus/accountants/prv.py, `get_epsilon` / `_get_dprv` / `_get_domain`, v1.5.4 semantics).
 */
import type { Accountant, EpsilonReport, MechanismStep } from '../types.ts';
import { composeHeterogeneous } from './compose.ts';
import { computeEpsilon, discretize } from './discrete.ts';
import { Domain, computeSafeDomainSize, meshSize, type RdpEpsilonFn } from './domain.ts';
import { PoissonSubsampledGaussianPRV, TruncatedPRV, type MeanBreakpoints } from './prvs.ts';
import { rdpEpsilon } from '../rdp.ts';
import { releaseFftCaches } from './fft.ts';

/** Opacus' get_epsilon default. */
export const DEFAULT_EPS_ERROR = 0.01;
/**
 * 2^24 points: about 1.5 GB of transient Float64Arrays at the largest FFT. Opacus has no guard and
 * dies with MemoryError in this regime (eps in the hundreds and more, where RDP is the better tool).
 */
export const DEFAULT_MAX_DOMAIN_POINTS = 2 ** 24;

/** Above this many points the FFT caches (hundreds of MB) are released after each call. */
const LARGE_GRID = 2 ** 21;

export interface PrvOptions {
  /** Width of the epsilon error band; default 0.01 as Opacus. */
  epsError?: number;
  /** Slack in delta for the bounds; default delta/1000 as Opacus. */
  deltaError?: number;
  /** Refuse (RangeError) when the discretisation grid would exceed this many points. */
  maxDomainPoints?: number;
  /**
   * Break points for the continuous mean: 'v1.5.4' (default; works for large q) or 'v1.4.0'
   * (reproduces Opacus v1.4.0, including its "discrete mean differs" failures).
   */
  meanBreakpoints?: MeanBreakpoints;
  /** RDP epsilon used to size the domain; defaults to the shared Opacus RDP (privacy/rdp.ts). */
  rdpEpsilon?: RdpEpsilonFn;
}

export interface PrvResult {
  /** What Opacus' get_epsilon returns: the upper bound, estimate + eps_error + delta_error effect. */
  epsilon: number;
  estimate: number;
  lower: number;
  delta: number;
  epsError: number;
  deltaError: number;
  /** Grid points used (0 when nothing was composed). */
  domainSize: number;
  /** Mesh of the grid and its half-width L before alignment. */
  dt: number;
  halfWidth: number;
}

function checkHistory(history: readonly MechanismStep[]): void {
  if (!Array.isArray(history)) throw new TypeError('PRV history must be an array of {noiseMultiplier, sampleRate, steps}');
  history.forEach((h, i) => {
    if (!(Number.isSafeInteger(h.steps) && h.steps >= 0)) throw new RangeError(`PRV history[${i}].steps must be a non-negative integer, got ${h.steps}`);
    if (!(h.sampleRate >= 0 && h.sampleRate <= 1)) throw new RangeError(`PRV history[${i}].sampleRate must be in [0, 1], got ${h.sampleRate}`);
    if (!(h.noiseMultiplier >= 0 && Number.isFinite(h.noiseMultiplier))) {
      throw new RangeError(`PRV history[${i}].noiseMultiplier must be a finite number >= 0, got ${h.noiseMultiplier}`);
    }
  });
}

/**
 * Entries that cost nothing (no steps, or q = 0) are dropped; consecutive entries with the same
 * (sigma, q) are merged, as Opacus' accountant step() merges them, so the result equals Opacus'
 * for the same training run however the history was chunked.
 */
function normaliseHistory(history: readonly MechanismStep[]): MechanismStep[] {
  const out: MechanismStep[] = [];
  for (const h of history) {
    if (h.steps === 0 || h.sampleRate === 0) continue;
    const last = out[out.length - 1];
    if (last && last.noiseMultiplier === h.noiseMultiplier && last.sampleRate === h.sampleRate) last.steps += h.steps;
    else out.push({ noiseMultiplier: h.noiseMultiplier, sampleRate: h.sampleRate, steps: h.steps });
  }
  return out;
}

/** Opacus' compute_safe_domain_size calls RDPAccountant.get_epsilon; privacy/rdp.ts is that port. */
const rdpForDomain: RdpEpsilonFn = (history, delta) => rdpEpsilon(history, delta).epsilon;

interface Resolved {
  epsError: number;
  deltaError: number;
  maxDomainPoints: number;
  meanBreakpoints: MeanBreakpoints;
  rdpEpsilon: RdpEpsilonFn;
}

function resolveOptions(delta: number, opts: PrvOptions): Resolved {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`PRV delta must be in (0, 1), got ${delta}`);
  const epsError = opts.epsError ?? DEFAULT_EPS_ERROR;
  if (!(epsError > 0 && Number.isFinite(epsError))) throw new RangeError(`PRV epsError must be a finite number > 0, got ${epsError}`);
  const deltaError = opts.deltaError ?? delta / 1000;
  if (!(deltaError > 0 && deltaError < delta)) throw new RangeError(`PRV deltaError must be in (0, delta=${delta}), got ${deltaError}`);
  const maxDomainPoints = opts.maxDomainPoints ?? DEFAULT_MAX_DOMAIN_POINTS;
  if (!(Number.isSafeInteger(maxDomainPoints) && maxDomainPoints >= 2)) {
    throw new RangeError(`PRV maxDomainPoints must be an integer >= 2, got ${maxDomainPoints}`);
  }
  const meanBreakpoints = opts.meanBreakpoints ?? 'v1.5.4';
  if (meanBreakpoints !== 'v1.5.4' && meanBreakpoints !== 'v1.4.0') {
    throw new RangeError(`PRV meanBreakpoints must be 'v1.5.4' or 'v1.4.0', got ${String(meanBreakpoints)}`);
  }
  return { epsError, deltaError, maxDomainPoints, meanBreakpoints, rdpEpsilon: opts.rdpEpsilon ?? rdpForDomain };
}

/**
 * The discretisation grid Opacus would use for this history (`PRVAccountant._get_domain`), without
 * building anything: lets a caller check the cost before calling prvEpsilon.
 */
export function prvDomain(history: readonly MechanismStep[], delta: number, opts: PrvOptions = {}): { domain: Domain; halfWidth: number; dt: number } | null {
  checkHistory(history);
  const r = resolveOptions(delta, opts);
  const h = normaliseHistory(history);
  if (h.length === 0 || h.some((e) => e.noiseMultiplier === 0)) return null;
  const total = h.reduce((s, e) => s + e.steps, 0);
  const halfWidth = computeSafeDomainSize(h, r.epsError, r.deltaError, r.rdpEpsilon);
  const dt = meshSize(total, r.epsError, r.deltaError);
  if (!Number.isFinite(halfWidth)) throw new RangeError(`PRV: the RDP bound that sizes the domain is not finite for this history`);
  const predicted = (2 * halfWidth) / dt;
  if (predicted > r.maxDomainPoints) {
    throw new RangeError(
      `PRV domain would need ~${Math.ceil(predicted)} points (half-width ${halfWidth.toFixed(3)}, mesh ${dt.toExponential(3)}), ` +
        `more than maxDomainPoints=${r.maxDomainPoints}. Opacus itself runs out of memory in this regime (the RDP bound ` +
        `that sizes the grid is ${(halfWidth - 3).toFixed(1)}); use the RDP accountant or raise maxDomainPoints.`,
    );
  }
  const domain = Domain.createAligned(-halfWidth, halfWidth, dt);
  if (domain.size > r.maxDomainPoints) {
    throw new RangeError(`PRV domain would need ${domain.size} points, more than maxDomainPoints=${r.maxDomainPoints}`);
  }
  return { domain, halfWidth, dt };
}

/** Epsilon bounds (lower, estimate, upper) of a history at delta; upper is what Opacus returns. */
export function prvEpsilon(history: readonly MechanismStep[], delta: number, opts: PrvOptions = {}): PrvResult {
  const planned = prvDomain(history, delta, opts);
  const r = resolveOptions(delta, opts);
  const h = normaliseHistory(history);
  const base = { delta, epsError: r.epsError, deltaError: r.deltaError };
  if (planned === null) {
    // No composed step: nothing was released. A step without noise: nothing is private.
    const e = h.length === 0 ? 0 : Infinity;
    return { epsilon: e, estimate: e, lower: e, ...base, domainSize: 0, dt: NaN, halfWidth: NaN };
  }
  const { domain, halfWidth, dt } = planned;
  try {
    const dprvs = h.map((e) => {
      const prv = new PoissonSubsampledGaussianPRV(e.sampleRate, e.noiseMultiplier);
      return discretize(new TruncatedPRV(prv, domain.tMin, domain.tMax), domain, r.meanBreakpoints);
    });
    const composed = composeHeterogeneous(
      dprvs,
      h.map((e) => e.steps),
    );
    const { lower, estimate, upper } = computeEpsilon(composed, delta, r.deltaError, r.epsError);
    return { epsilon: upper, estimate, lower, ...base, domainSize: domain.size, dt, halfWidth };
  } finally {
    if (domain.size > LARGE_GRID) releaseFftCaches();
  }
}

/** The PRV accountant behind the shared Accountant contract, with Opacus' defaults. */
export const prvAccountant: Accountant = {
  name: 'prv',
  epsilon(history: readonly MechanismStep[], delta: number): EpsilonReport {
    const r = prvEpsilon(history, delta);
    return { epsilon: r.epsilon, delta, accountant: 'prv', estimate: r.estimate, lower: r.lower };
  },
};
