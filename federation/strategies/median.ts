/**
 * Coordinate-wise median (Yin et al. 2018, "Byzantine-robust distributed learning: towards optimal
 * statistical rates", ICML, Option I): θ ← θ + η_s · median_i(Δᵢ) per coordinate. It tolerates up to
 * half the updates being arbitrary. Weights and staleness are ignored: a weighted median would let a
 * client that declares a large weight move it. Not a sum, so it does not shard exactly (README).
 */
import { coordinatewiseStrategy, medianInPlace, type RobustOptions } from './coordinatewise.ts';
import type { NoState, Strategy } from './types.ts';

export type { RobustOptions } from './coordinatewise.ts';

export function coordinateMedian(opts: RobustOptions): Strategy<NoState> {
  return coordinatewiseStrategy('coordinate-median', opts, () => ({ reduce: medianInPlace }));
}
