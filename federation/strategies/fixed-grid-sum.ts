/**
 * Order-independent (reproducible) summation of float64 terms: the reason several aggregator shards
 * can produce bit-for-bit the model one aggregator would.
 *
 * Plain floating-point addition is not associative, so Σ over shard A plus Σ over shard B differs
 * in the last bits from Σ over everything. Here every term is first split into slices on fixed
 * power-of-two grids g0 > g1 > g2 derived only from a configured bound B (the idea of pre-rounding
 * to a fixed exponent in Demmel & Nguyen 2015, "Parallel reproducible summation", IEEE Trans.
 * Computers 64(7), the algorithm behind ReproBLAS):
 *
 *   s0 = round(t, g0), s1 = round(t − s0, g1), s2 = round(t − s0 − s1, g2)
 *
 * with round(x, g) = (x + 1.5·2^52·g) − 1.5·2^52·g, exact for |x| ≤ 2^51·g. Each slice is an integer
 * multiple of its grid of at most 2^31 grid steps, so the per-grid sums are exact in float64 as long
 * as fewer than 2^21 terms are added: every partition of the terms gives the same three sums, and
 * the value read back from them is the same. The only rounding is what falls below g2 = B·2^-93,
 * decided per term, hence also partition-independent.
 */

/** Slices per term. */
export const GRID_LIMBS = 3;
const SLICE_BITS = 31;
/** Terms one sum may hold and stay exact: 2^21 · 2^31 < 2^53 with room for the slice carry. */
export const MAX_TERMS = 2 ** 21;
/** The bound used for weight sums. */
export const WEIGHT_BOUND = 2 ** 32;

export interface FixedGrid {
  /** A power of two: |term| must not exceed it. */
  readonly bound: number;
  readonly grids: readonly [number, number, number];
}

/** The grid for terms bounded by `bound` (rounded up to a power of two). */
export function fixedGrid(bound: number): FixedGrid {
  if (!(bound > 0) || !Number.isFinite(bound)) throw new RangeError(`fixed-grid sum: bound must be positive and finite (got ${bound})`);
  const b = 2 ** Math.ceil(Math.log2(bound));
  const g0 = b * 2 ** -SLICE_BITS;
  const g1 = g0 * 2 ** -SLICE_BITS;
  const g2 = g1 * 2 ** -SLICE_BITS;
  if (g2 === 0 || !Number.isFinite(b * 2 ** 52)) throw new RangeError(`fixed-grid sum: bound ${bound} is outside the usable range`);
  return { bound: b, grids: [g0, g1, g2] };
}

/**
 * limbs (GRID_LIMBS × n, limb-major) += slices of w·x[i] for every i. Throws a RangeError naming the
 * coordinate when a term is not finite or exceeds the bound (it would break exactness).
 */
export function addScaledTerms(limbs: Float64Array, grid: FixedGrid, x: Float32Array, w: number, label: string): void {
  const n = x.length;
  if (limbs.length !== GRID_LIMBS * n) throw new RangeError(`fixed-grid sum: ${label} has ${n} values, the sum holds ${limbs.length / GRID_LIMBS}`);
  const { bound } = grid;
  const [g0, g1, g2] = grid.grids;
  const c0 = 1.5 * 2 ** 52 * g0;
  const c1 = 1.5 * 2 ** 52 * g1;
  const c2 = 1.5 * 2 ** 52 * g2;
  for (let i = 0; i < n; i++) {
    const t = w * x[i];
    if (!(Math.abs(t) <= bound)) {
      throw new RangeError(`fixed-grid sum: ${label} value ${i} weighted is ${t}, outside the sum's bound ±${bound} (raise sumBound, or clip updates first)`);
    }
    const s0 = t + c0 - c0;
    let r = t - s0;
    const s1 = r + c1 - c1;
    r -= s1;
    const s2 = r + c2 - c2;
    limbs[i] += s0;
    limbs[n + i] += s1;
    limbs[2 * n + i] += s2;
  }
}

/** A one-value sum (for weights), same scheme: limbs has GRID_LIMBS entries. */
export function addScalarTerm(limbs: Float64Array, grid: FixedGrid, t: number, label: string): void {
  if (limbs.length !== GRID_LIMBS) throw new RangeError(`fixed-grid sum: a scalar sum has ${GRID_LIMBS} limbs (got ${limbs.length})`);
  if (!(Math.abs(t) <= grid.bound)) throw new RangeError(`fixed-grid sum: ${label} is ${t}, outside ±${grid.bound}`);
  const [g0, g1, g2] = grid.grids;
  const c0 = 1.5 * 2 ** 52 * g0;
  const c1 = 1.5 * 2 ** 52 * g1;
  const c2 = 1.5 * 2 ** 52 * g2;
  const s0 = t + c0 - c0;
  let r = t - s0;
  const s1 = r + c1 - c1;
  r -= s1;
  limbs[0] += s0;
  limbs[1] += s1;
  limbs[2] += r + c2 - c2;
}

/** Adds limb arrays (exact: both hold integer multiples of the same grids). */
export function addLimbs(into: Float64Array, from: Float64Array): void {
  if (into.length !== from.length) throw new RangeError(`fixed-grid sum: cannot add sums of ${from.length / GRID_LIMBS} and ${into.length / GRID_LIMBS} values`);
  for (let i = 0; i < into.length; i++) into[i] += from[i];
}

/** The value of coordinate i: smallest limb first, so the one rounding is the last addition's. */
export function limbValue(limbs: Float64Array, n: number, i: number): number {
  return limbs[2 * n + i] + limbs[n + i] + limbs[i];
}
