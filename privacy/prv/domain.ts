/**
 * The grid the PRVs are discretised on, and how large it must be.
 * Follows opacus/accountants/analysis/prv/domain.py (`Domain`, `compute_safe_domain_size`) and
 * opacus/accountants/prv.py (`PRVAccountant._get_domain`); Gopi et al. 2021 (arXiv 2106.02848)
 * Remark 5.6 for the domain size and Theorem 5.5 / Sec. 5 for the mesh size.
 */
import type { MechanismStep } from '../types.ts';

/** Python's round() / numpy.round: halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * An evenly spaced grid of `size` points from tMin to tMax (size even, which the real FFT's
 * roll bookkeeping in compose.ts needs). `shifts` accumulates the mean-shift corrections that
 * moved the grid off its aligned origin.
 */
export class Domain {
  readonly tMin: number;
  readonly tMax: number;
  readonly size: number;
  readonly shifts: number;

  constructor(tMin: number, tMax: number, size: number, shifts = 0) {
    if (!Number.isInteger(size)) throw new TypeError(`Domain size must be an integer, got ${size}`);
    if (size % 2 !== 0) throw new RangeError(`Domain size must be even, got ${size}`);
    this.tMin = tMin;
    this.tMax = tMax;
    this.size = size;
    this.shifts = shifts;
  }

  /** Grid over [floor(tMin/dt)·dt, ceil(tMax/dt)·dt], one more point if that count is odd. */
  static createAligned(tMin: number, tMax: number, dt: number): Domain {
    if (!(dt > 0 && Number.isFinite(dt))) throw new RangeError(`Domain mesh size dt must be a finite number > 0, got ${dt}`);
    if (!(Number.isFinite(tMin) && Number.isFinite(tMax) && tMin < tMax)) {
      throw new RangeError(`Domain bounds must be finite with tMin < tMax, got [${tMin}, ${tMax}]`);
    }
    const lo = Math.floor(tMin / dt) * dt;
    let hi = Math.ceil(tMax / dt) * dt;
    let size = roundHalfEven((hi - lo) / dt) + 1;
    if (size % 2 === 1) {
      size += 1;
      hi += dt;
    }
    const domain = new Domain(lo, hi, size);
    if (Math.abs(domain.dt - dt) / dt >= 1e-8) {
      throw new RangeError(`Domain.createAligned: mesh ${domain.dt} drifted from the requested ${dt}`);
    }
    return domain;
  }

  get dt(): number {
    return (this.tMax - this.tMin) / (this.size - 1);
  }

  shiftRight(dt: number): Domain {
    return new Domain(this.tMin + dt, this.tMax + dt, this.size, this.shifts + dt);
  }

  /** The grid points, as numpy.linspace computes them (i·step + tMin, last point exactly tMax). */
  ts(): Float64Array {
    const n = this.size;
    const step = (this.tMax - this.tMin) / (n - 1);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = i * step + this.tMin;
    out[n - 1] = this.tMax;
    return out;
  }
}

/** RDP epsilon of a history at a delta: the loose, cheap bound that sizes the PRV domain. */
export type RdpEpsilonFn = (history: readonly MechanismStep[], delta: number) => number;

/**
 * Half-width L of the domain [-L, L]: beyond it the composed loss has less than delta_error/4
 * of its mass (Gopi et al. Remark 5.6, bounded with RDP), and no single step's loss exceeds it
 * except with probability delta_error/(8·total steps). Plus 3 as margin, as Opacus.
 */
export function computeSafeDomainSize(
  history: readonly MechanismStep[],
  epsError: number,
  deltaError: number,
  rdpEpsilon: RdpEpsilonFn,
): number {
  const totalCompositions = history.reduce((s, h) => s + h.steps, 0);
  let lMax = rdpEpsilon(history, deltaError / 4);
  for (const h of history) {
    lMax = Math.max(lMax, rdpEpsilon([{ noiseMultiplier: h.noiseMultiplier, sampleRate: h.sampleRate, steps: 1 }], deltaError / (8 * totalCompositions)));
  }
  return Math.max(lMax, epsError) + 3;
}

/**
 * Mesh size eps_error / sqrt(k·log(12/delta_error)/2) for k composed steps (Opacus
 * `PRVAccountant._get_domain`): the discretisation error of epsilon after k steps stays below
 * eps_error with probability ≥ 1 - delta_error (Hoeffding, Gopi et al. Sec. 5).
 */
export function meshSize(totalCompositions: number, epsError: number, deltaError: number): number {
  return epsError / Math.sqrt((totalCompositions * Math.log(12 / deltaError)) / 2);
}
