/**
 * Coordinate-wise robust statistics over n deltas. Coordinates are processed in blocks: a block of
 * every update is transposed into a scratch buffer (reading each delta contiguously), then each
 * coordinate's n values are reduced in place by selection (select.ts), O(n) per coordinate.
 */
import { selectInPlace } from '../select.ts';
import { checkRoundPolicy, configureFromPolicy } from './round-policy.ts';
import type { Metrics, NoState, RoundPolicy, Strategy } from './types.ts';
import { applyStep, checkPositive, checkUpdates, l2Norm } from './vector.ts';

export interface RobustOptions {
  readonly round: RoundPolicy;
  /** η_s; default 1. */
  readonly serverLearningRate?: number;
  readonly evaluate?: (params: Float32Array, roundId: number) => Metrics;
}

/**
 * The frame the coordinate-wise strategies share: θ ← θ + η_s · reduce(Δ₁..Δₙ) per coordinate, with
 * weights and staleness ignored. `reducerFor(n)` gives the round's reducer for n updates and any
 * metrics of its own.
 */
export function coordinatewiseStrategy(name: string, opts: RobustOptions, reducerFor: (n: number) => { reduce: CoordinateReducer; metrics?: Metrics }): Strategy<NoState> {
  checkRoundPolicy(opts.round);
  const lr = opts.serverLearningRate ?? 1;
  checkPositive(name, 'serverLearningRate', lr);
  const strategy: Strategy<NoState> = {
    name,
    initialState: () => ({}),
    configureRound: (ctx) => configureFromPolicy(name, opts.round, ctx),
    aggregate(globalParams, updates, state) {
      checkUpdates(name, globalParams, updates);
      const { reduce, metrics } = reducerFor(updates.length);
      const step = reduceCoordinates(updates.map((u) => u.delta), reduce, name);
      return { params: applyStep(globalParams, step, lr), state, metrics: { updates: updates.length, ...metrics, stepNorm: lr * l2Norm(step) } };
    },
  };
  if (opts.evaluate) strategy.evaluate = opts.evaluate;
  return strategy;
}

const BLOCK = 256;

/** reduce(scratch, lo, hi) sees one coordinate's values in scratch[lo..hi] (inclusive) and may reorder them. */
export type CoordinateReducer = (scratch: Float32Array, lo: number, hi: number) => number;

export function reduceCoordinates(deltas: readonly Float32Array[], reduce: CoordinateReducer, label: string): Float64Array {
  const n = deltas.length;
  const p = deltas[0].length;
  const out = new Float64Array(p);
  const scratch = new Float32Array(n * BLOCK);
  for (let start = 0; start < p; start += BLOCK) {
    const width = Math.min(BLOCK, p - start);
    for (let j = 0; j < n; j++) {
      const d = deltas[j];
      for (let c = 0; c < width; c++) {
        const v = d[start + c];
        if (v !== v) throw new RangeError(`${label}: update ${j} value ${start + c} is NaN`);
        scratch[c * n + j] = v;
      }
    }
    for (let c = 0; c < width; c++) out[start + c] = reduce(scratch, c * n, c * n + n - 1);
  }
  return out;
}

/** Median of a[lo..hi]; the mean of the two middle values when the count is even. */
export function medianInPlace(a: Float32Array, lo: number, hi: number): number {
  const n = hi - lo + 1;
  const mid = lo + (n >> 1);
  const upper = selectInPlace(a, mid, lo, hi);
  if (n % 2 === 1) return upper;
  // After selection everything left of mid is ≤ a[mid]; the lower middle is their maximum.
  let lower = a[lo];
  for (let i = lo + 1; i < mid; i++) if (a[i] > lower) lower = a[i];
  return (lower + upper) / 2;
}

/** Mean of a[lo..hi] without its `trim` smallest and `trim` largest values (ties handled by selection). */
export function trimmedMeanInPlace(a: Float32Array, lo: number, hi: number, trim: number): number {
  const first = lo + trim;
  const last = hi - trim;
  if (trim > 0) {
    selectInPlace(a, first, lo, hi);
    selectInPlace(a, last, first, hi);
  }
  let s = 0;
  for (let i = first; i <= last; i++) s += a[i];
  return s / (last - first + 1);
}
