/**
 * Partial sums for sharded aggregation. A weighted mean Σ wᵢΔᵢ / Σ mᵢ is a sum, so shards each sum
 * their share of the updates and a root adds the partial sums: with fixed-grid summation
 * (fixed-grid-sum.ts) the root's result equals, bit for bit, what one aggregator would compute from
 * all updates, whatever the split and order. The linear strategies (FedAvg, norm bounding, FedAdam,
 * FedBuff-style weighting) aggregate through these functions even unsharded, which is what makes
 * that equality hold. The median and the trimmed mean are not sums and do not shard exactly (see
 * federation/README.md).
 *
 * A PartialSum is plain data (numbers and Float64Arrays), so it can be persisted or sent between
 * shards as is.
 */
import { GRID_LIMBS, MAX_TERMS, WEIGHT_BOUND, addLimbs, addScalarTerm, addScaledTerms, fixedGrid, limbValue } from './fixed-grid-sum.ts';

/** Default bound on any weighted value w·Δᵢ: far above any sane delta, and a grid fine to ~1e-22. */
export const DEFAULT_SUM_BOUND = 2 ** 20;

export interface WeightedDelta {
  readonly delta: Float32Array;
  /** Multiplies the delta in the numerator. */
  readonly weight: number;
  /** Counts in the denominator; defaults to `weight`. FedBuff's staleness discount changes only the weight. */
  readonly mass?: number;
  /** Named in error messages. */
  readonly clientId?: string;
}

export interface PartialSum {
  /** Parameter count. */
  readonly length: number;
  /** The fixed-grid bound all shards must share. */
  readonly bound: number;
  /** GRID_LIMBS × length, limb-major: the fixed-grid representation of Σ wᵢΔᵢ. */
  readonly sumLimbs: Float64Array;
  /** GRID_LIMBS: the fixed-grid representation of Σ mᵢ. */
  readonly weightLimbs: Float64Array;
  /** Updates summed. */
  readonly count: number;
}

export interface PartialSumOptions {
  /** Parameter count; required when there are no terms (an idle shard). */
  readonly length?: number;
  /** Bound on |wᵢ·Δᵢ[j]|; every shard must use the same. Default DEFAULT_SUM_BOUND. */
  readonly bound?: number;
}

export function partialSum(terms: readonly WeightedDelta[], opts: PartialSumOptions = {}): PartialSum {
  const length = opts.length ?? terms[0]?.delta.length;
  if (length === undefined) throw new RangeError('partialSum: no updates, so give opts.length (the parameter count)');
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`partialSum: length must be a non-negative integer (got ${length})`);
  if (terms.length > MAX_TERMS) throw new RangeError(`partialSum: ${terms.length} updates exceed the ${MAX_TERMS} one exact sum can hold`);
  const grid = fixedGrid(opts.bound ?? DEFAULT_SUM_BOUND);
  const weightGrid = fixedGrid(WEIGHT_BOUND);
  const sumLimbs = new Float64Array(GRID_LIMBS * length);
  const weightLimbs = new Float64Array(GRID_LIMBS);
  terms.forEach((t, k) => {
    const label = t.clientId === undefined ? `update ${k}` : `update ${k} (client ${t.clientId})`;
    if (!(t.delta instanceof Float32Array) || t.delta.length !== length) throw new RangeError(`partialSum: ${label} delta has ${t.delta?.length} values, expected ${length}`);
    const mass = t.mass ?? t.weight;
    if (!(Number.isFinite(t.weight) && t.weight >= 0)) throw new RangeError(`partialSum: ${label} weight must be finite and ≥ 0 (got ${t.weight})`);
    if (!(Number.isFinite(mass) && mass >= 0)) throw new RangeError(`partialSum: ${label} mass must be finite and ≥ 0 (got ${mass})`);
    addScaledTerms(sumLimbs, grid, t.delta, t.weight, label);
    addScalarTerm(weightLimbs, weightGrid, mass, `${label} mass`);
  });
  return { length, bound: grid.bound, sumLimbs, weightLimbs, count: terms.length };
}

/** Adds partial sums (a shard of shards, or the root): exact. */
export function mergePartials(partials: readonly PartialSum[]): PartialSum {
  if (partials.length === 0) throw new RangeError('mergePartials: no partial sums');
  const { length, bound } = partials[0];
  const sumLimbs = new Float64Array(GRID_LIMBS * length);
  const weightLimbs = new Float64Array(GRID_LIMBS);
  let count = 0;
  partials.forEach((p, k) => {
    if (p.length !== length) throw new RangeError(`mergePartials: partial ${k} covers ${p.length} parameters, partial 0 covers ${length}`);
    if (p.bound !== bound) throw new RangeError(`mergePartials: partial ${k} was summed with bound ${p.bound}, partial 0 with ${bound}; shards must share one bound`);
    addLimbs(sumLimbs, p.sumLimbs);
    addLimbs(weightLimbs, p.weightLimbs);
    count += p.count;
  });
  if (count > MAX_TERMS) throw new RangeError(`mergePartials: ${count} updates exceed the ${MAX_TERMS} one exact sum can hold`);
  return { length, bound, sumLimbs, weightLimbs, count };
}

/** Σ wᵢΔᵢ and Σ mᵢ as plain numbers. */
export function partialTotals(p: PartialSum): { sum: Float64Array; weight: number } {
  const sum = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) sum[i] = limbValue(p.sumLimbs, p.length, i);
  return { sum, weight: limbValue(p.weightLimbs, 1, 0) };
}

/** The weighted mean Σ wᵢΔᵢ / Σ mᵢ over all partials. Throws if the total mass is 0. */
export function combine(partials: readonly PartialSum[]): Float64Array {
  const merged = partials.length === 1 ? partials[0] : mergePartials(partials);
  const { sum, weight } = partialTotals(merged);
  if (!(weight > 0)) throw new RangeError(`combine: the total weight of ${merged.count} updates is ${weight}; nothing to average`);
  for (let i = 0; i < sum.length; i++) sum[i] /= weight;
  return sum;
}
