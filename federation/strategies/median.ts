/**
 * Coordinate-wise median (Yin et al. 2018, "Byzantine-robust distributed learning: towards optimal
 * statistical rates", ICML, Option I): θ ← θ + η_s · median_i(Δᵢ) per coordinate. It tolerates up to
 * half the updates being arbitrary. Weights and staleness are ignored: a weighted median would let a
 * client that declares a large weight move it. Not a sum, so it does not shard exactly (README).
 */
import { reduceCoordinates, medianInPlace } from './coordinatewise.ts';
import { checkRoundPolicy, configureFromPolicy } from './round-policy.ts';
import type { Metrics, NoState, RoundPolicy, Strategy } from './types.ts';
import { applyStep, checkPositive, checkUpdates, l2Norm } from './vector.ts';

export interface RobustOptions {
  readonly round: RoundPolicy;
  /** η_s; default 1. */
  readonly serverLearningRate?: number;
  readonly evaluate?: (params: Float32Array, roundId: number) => Metrics;
}

export function coordinateMedian(opts: RobustOptions): Strategy<NoState> {
  const name = 'coordinate-median';
  checkRoundPolicy(opts.round);
  const lr = opts.serverLearningRate ?? 1;
  checkPositive(name, 'serverLearningRate', lr);
  const strategy: Strategy<NoState> = {
    name,
    initialState: () => ({}),
    configureRound: (ctx) => configureFromPolicy(name, opts.round, ctx),
    aggregate(globalParams, updates, state) {
      checkUpdates(name, globalParams, updates);
      const median = reduceCoordinates(updates.map((u) => u.delta), medianInPlace, name);
      return { params: applyStep(globalParams, median, lr), state, metrics: { updates: updates.length, stepNorm: lr * l2Norm(median) } };
    },
  };
  if (opts.evaluate) {
    const evaluate = opts.evaluate;
    strategy.evaluate = (params, roundId) => evaluate(params, roundId);
  }
  return strategy;
}
