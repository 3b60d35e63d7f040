/**
 * A PRV discretised on a Domain, and how to read epsilon off it.
 * Follows opacus/accountants/analysis/prv/prvs.py (`discretize`, `DiscretePRV.compute_epsilon`,
 * v1.4.0 = v1.5.4) and Gopi et al. 2021 (arXiv 2106.02848) Sec. 5 (Algorithm 1, Theorem 5.5).
 */
import { Domain } from './domain.ts';
import type { MeanBreakpoints, TruncatedPRV } from './prvs.ts';

export interface DiscretePRV {
  /** Probability mass at each grid point of `domain` (same length). */
  pmf: Float64Array;
  domain: Domain;
}

/** Neumaier-compensated Σ a_i·b_i (numpy.dot sums in BLAS order; this is at least as accurate). */
function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  let c = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] * b[i];
    const t = sum + x;
    c += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
  }
  return sum + c;
}

/**
 * pmf_k = F(t_k + dt/2) - F(t_k - dt/2), then the grid is shifted by (continuous mean - discrete
 * mean) so the discrete variable has the exact mean: Gopi et al. Sec. 5 — a mean-preserving
 * discretisation keeps the error of the k-fold composition at O(√k·dt) instead of O(k·dt).
 * Opacus refuses (RuntimeError) when that shift is half a mesh or more; so do we.
 */
export function discretize(tprv: TruncatedPRV, domain: Domain, meanBreakpoints: MeanBreakpoints = 'v1.5.4'): DiscretePRV {
  const ts = domain.ts();
  const half = domain.dt / 2;
  const pmf = new Float64Array(domain.size);
  for (let i = 0; i < ts.length; i++) {
    const tc = ts[i];
    pmf[i] = tprv.cdf(tc + half) - tprv.cdf(tc - half);
  }
  const meanD = dot(ts, pmf);
  const meanC = tprv.mean(meanBreakpoints);
  const meanShift = meanC - meanD;
  if (!(Math.abs(meanShift) < half)) {
    throw new RangeError(
      `PRV discretisation: discrete mean differs significantly from continuous mean (shift ${meanShift} >= dt/2 = ${half}; ` +
        `q=${tprv.prv.sampleRate}, sigma=${tprv.prv.noiseMultiplier}, mean integration ${meanBreakpoints})`,
    );
  }
  return { pmf, domain: domain.shiftRight(meanShift) };
}

/** numpy.finfo(numpy.longdouble).eps on x86-64 (80-bit extended), used by Opacus' guard. */
const LONGDOUBLE_EPS = 1.0842021724855044e-19;

export interface EpsilonBounds {
  lower: number;
  estimate: number;
  upper: number;
}

/**
 * epsilon(delta) of the composed PRV Y: delta(eps) = E[(1 - e^{eps - Y})_+] (Gopi et al. Prop. 2.2
 * / Sec. 5), evaluated at every grid point by reverse cumulative sums, then inverted by binary
 * search. upper/lower widen by delta_error and eps_error (Theorem 5.5: with the domain and mesh
 * chosen as in domain.ts the true epsilon lies in [lower, upper]).
 *
 * Sums run sequentially from the top of the grid, in numpy.cumsum's order, so that the tail sums
 * equal Opacus' to the rounding of the pmf.
 */
export function computeEpsilon(dprv: DiscretePRV, delta: number, deltaError: number, epsError: number): EpsilonBounds {
  if (delta <= 0) return { lower: Infinity, estimate: Infinity, upper: Infinity };
  const n = dprv.domain.size;
  if (dprv.pmf.length !== n) throw new RangeError(`DiscretePRV: pmf length ${dprv.pmf.length} != domain size ${n}`);
  if (LONGDOUBLE_EPS * n > delta - deltaError) {
    throw new RangeError(
      `PRV: floating point errors dominate for delta=${delta} (deltaError=${deltaError}) on a domain of ${n} points; increase delta or reduce the domain`,
    );
  }
  const t = dprv.domain.ts();
  const p = dprv.pmf;
  const d1 = new Float64Array(n);
  const d2 = new Float64Array(n);
  let s1 = 0;
  let s2 = 0;
  for (let i = n - 1; i >= 0; i--) {
    s1 += p[i];
    s2 += p[i] * Math.exp(-t[i]);
    d1[i] = s1;
    d2[i] = s2;
  }
  const ndelta = new Float64Array(n);
  for (let i = 0; i < n; i++) ndelta[i] = Math.exp(t[i]) * d2[i] - d1[i];

  const findEpsilon = (deltaTarget: number): number => {
    // numpy.searchsorted(ndelta, -deltaTarget, side="left")
    const key = -deltaTarget;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = lo + ((hi - lo) >> 1);
      if (ndelta[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    if (lo <= 0) throw new RangeError(`PRV: cannot compute epsilon for delta=${deltaTarget} (the domain starts above it)`);
    if (lo >= n) throw new RangeError(`PRV: cannot compute epsilon for delta=${deltaTarget} (beyond the domain)`);
    return Math.log((d1[lo] - deltaTarget) / d2[lo]);
  };

  const upper = findEpsilon(delta - deltaError) + epsError;
  const lower = findEpsilon(delta + deltaError) - epsError;
  const estimate = findEpsilon(delta);
  return { lower, estimate, upper };
}
