/**
 * Coordinate-wise trimmed mean (Yin et al. 2018, ICML, Option II): per coordinate, drop the
 * k = ⌊β·n⌋ largest and k smallest values and average the rest. Robust to up to k arbitrary updates
 * per coordinate (β < 1/2). Weights and staleness are ignored, as for the median. Not a sum, so it
 * does not shard exactly (README).
 */
import { coordinatewiseStrategy, trimmedMeanInPlace, type RobustOptions } from './coordinatewise.ts';
import type { NoState, Strategy } from './types.ts';

export interface TrimmedMeanOptions extends RobustOptions {
  /** β in [0, 0.5): the fraction trimmed from each end. */
  readonly trimFraction: number;
}

export function trimmedMean(opts: TrimmedMeanOptions): Strategy<NoState> {
  const name = 'trimmed-mean';
  const beta = opts.trimFraction;
  if (!(beta >= 0 && beta < 0.5)) throw new RangeError(`${name}: trimFraction must be in [0, 0.5) (got ${beta})`);
  return coordinatewiseStrategy(name, opts, (n) => {
    const trim = Math.floor(beta * n);
    return { reduce: (a, lo, hi) => trimmedMeanInPlace(a, lo, hi, trim), metrics: { trimmedEachSide: trim } };
  });
}
