/**
 * How each update counts in a weighted mean: its base weight (equal, or declared by the gateway),
 * FedBuff's staleness discount, and norm bounding's clip factor.
 *
 * Equal weights are the default on purpose. FedAvg (McMahan et al. 2017) weights by example count
 * n_k, but an exact count is a function of the user's raw data and design.md forbids publishing it:
 * with DP the gateway can only declare a privatised count (spending budget on it), so 'declared' is
 * for weights that were privatised on the gateway, never for raw counts.
 */
import type { WeightedDelta } from './partial-sum.ts';
import type { ClientUpdate } from './types.ts';
import { l2Norm } from './vector.ts';

export type Weighting = 'equal' | 'declared';
export type StalenessDiscount = (staleness: number) => number;

/** FedBuff's s(τ) = 1/√(1+τ) (Nguyen et al. 2022, "Federated learning with buffered asynchronous aggregation", AISTATS, §3/§5). */
export const inverseSqrtStaleness: StalenessDiscount = (s) => 1 / Math.sqrt(1 + s);

export interface StalenessWeighting {
  /** Default inverseSqrtStaleness. */
  readonly discount?: StalenessDiscount;
  /**
   * 'base' (default, FedBuff): divide by the sum of base weights (the buffer size K with equal
   * weights), so stale updates shrink the step. 'discounted': divide by the sum of discounted weights,
   * so staleness only shifts relative influence.
   */
  readonly normalizeBy?: 'base' | 'discounted';
}

export interface WeightingOptions {
  readonly weighting?: Weighting;
  /** Apply a staleness discount (buffered mode); updates without staleness count as fresh. */
  readonly staleness?: StalenessWeighting;
  /** Scale each update to L2 norm ≤ clipNorm first (norm bounding). */
  readonly clipNorm?: number;
}

export interface WeighedUpdates {
  readonly terms: WeightedDelta[];
  /** Updates the clip scaled down. */
  readonly clipped: number;
}

export function checkWeightingOptions(strategy: string, opts: WeightingOptions): void {
  const w = opts.weighting ?? 'equal';
  if (w !== 'equal' && w !== 'declared') throw new RangeError(`${strategy}: weighting must be 'equal' or 'declared' (got ${String(w)})`);
  if (opts.clipNorm !== undefined && !(opts.clipNorm > 0 && Number.isFinite(opts.clipNorm))) throw new RangeError(`${strategy}: clipNorm must be positive and finite (got ${opts.clipNorm})`);
  const n = opts.staleness?.normalizeBy ?? 'base';
  if (n !== 'base' && n !== 'discounted') throw new RangeError(`${strategy}: staleness.normalizeBy must be 'base' or 'discounted' (got ${String(n)})`);
}

export function weighUpdates(strategy: string, updates: readonly ClientUpdate[], opts: WeightingOptions): WeighedUpdates {
  const declared = (opts.weighting ?? 'equal') === 'declared';
  const discount = opts.staleness ? (opts.staleness.discount ?? inverseSqrtStaleness) : undefined;
  const byDiscounted = opts.staleness?.normalizeBy === 'discounted';
  let clipped = 0;
  const terms = updates.map((u, k): WeightedDelta => {
    const base = declared ? u.weight : 1;
    if (!(Number.isFinite(base) && base >= 0)) throw new RangeError(`${strategy}: update ${k} (client ${u.clientId}) declared weight must be finite and ≥ 0 (got ${u.weight})`);
    let factor = 1;
    if (discount) {
      factor = discount(u.staleness ?? 0);
      if (!(Number.isFinite(factor) && factor >= 0)) throw new RangeError(`${strategy}: staleness discount of ${u.staleness ?? 0} is ${factor}; it must be finite and ≥ 0`);
    }
    let clip = 1;
    if (opts.clipNorm !== undefined) {
      const norm = l2Norm(u.delta);
      if (norm > opts.clipNorm) {
        clip = opts.clipNorm / norm;
        clipped++;
      }
    }
    return { delta: u.delta, weight: base * factor * clip, mass: byDiscounted ? base * factor : base, clientId: u.clientId };
  });
  return { terms, clipped };
}
