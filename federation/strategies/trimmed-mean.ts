/**
 * Coordinate-wise trimmed mean (Yin et al. 2018, ICML, Option II): per coordinate, drop the
 * k = ⌊β·n⌋ largest and k smallest values and average the rest. Robust to up to k arbitrary updates
 * per coordinate (β < 1/2). Weights and staleness are ignored, as for the median. Not a sum, so it
 * does not shard exactly (README).
 */
import { reduceCoordinates, trimmedMeanInPlace } from './coordinatewise.ts';
import type { RobustOptions } from './median.ts';
import { checkRoundPolicy, configureFromPolicy } from './round-policy.ts';
import type { NoState, Strategy } from './types.ts';
import { applyStep, checkPositive, checkUpdates, l2Norm } from './vector.ts';

export interface TrimmedMeanOptions extends RobustOptions {
  /** β in [0, 0.5): the fraction trimmed from each end. */
  readonly trimFraction: number;
}

export function trimmedMean(opts: TrimmedMeanOptions): Strategy<NoState> {
  const name = 'trimmed-mean';
  checkRoundPolicy(opts.round);
  const beta = opts.trimFraction;
  if (!(beta >= 0 && beta < 0.5)) throw new RangeError(`${name}: trimFraction must be in [0, 0.5) (got ${beta})`);
  const lr = opts.serverLearningRate ?? 1;
  checkPositive(name, 'serverLearningRate', lr);
  const strategy: Strategy<NoState> = {
    name,
    initialState: () => ({}),
    configureRound: (ctx) => configureFromPolicy(name, opts.round, ctx),
    aggregate(globalParams, updates, state) {
      checkUpdates(name, globalParams, updates);
      const trim = Math.floor(beta * updates.length);
      const mean = reduceCoordinates(updates.map((u) => u.delta), (a, lo, hi) => trimmedMeanInPlace(a, lo, hi, trim), name);
      return { params: applyStep(globalParams, mean, lr), state, metrics: { updates: updates.length, trimmedEachSide: trim, stepNorm: lr * l2Norm(mean) } };
    },
  };
  if (opts.evaluate) {
    const evaluate = opts.evaluate;
    strategy.evaluate = (params, roundId) => evaluate(params, roundId);
  }
  return strategy;
}
