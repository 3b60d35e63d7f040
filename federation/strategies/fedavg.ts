/**
 * FedAvg (McMahan et al. 2017, "Communication-efficient learning of deep networks from decentralized
 * data", AISTATS): θ ← θ + η_s · Σ wᵢΔᵢ / Σ mᵢ, with η_s = 1 the paper's rule. With the staleness
 * option it is FedBuff's server step over a buffer (Nguyen et al. 2022); with clipNorm it is norm
 * bounding (see norm-bounding.ts). Shardable: see partial-sum.ts.
 */
import { DEFAULT_SUM_BOUND, combine, partialSum, type PartialSum } from './partial-sum.ts';
import { checkRoundPolicy, configureFromPolicy } from './round-policy.ts';
import type { ClientUpdate, Metrics, NoState, RoundPolicy, ShardableStrategy } from './types.ts';
import { applyStep, checkPositive, checkUpdates, l2Norm, meanStaleness } from './vector.ts';
import { checkWeightingOptions, weighUpdates, type WeightingOptions } from './weighting.ts';

export interface FedAvgOptions extends WeightingOptions {
  readonly round: RoundPolicy;
  /** η_s; default 1. */
  readonly serverLearningRate?: number;
  /** Bound on any |weight·Δ| for the exact sum; every shard must use the same. Default 2^20. */
  readonly sumBound?: number;
  readonly evaluate?: (params: Float32Array, roundId: number) => Metrics;
  /** Reported as the strategy name; default 'fedavg'. */
  readonly name?: string;
}

export function fedAvg(opts: FedAvgOptions): ShardableStrategy<NoState> {
  const name = opts.name ?? 'fedavg';
  checkRoundPolicy(opts.round);
  checkWeightingOptions(name, opts);
  const lr = opts.serverLearningRate ?? 1;
  checkPositive(name, 'serverLearningRate', lr);
  const bound = opts.sumBound ?? DEFAULT_SUM_BOUND;
  checkPositive(name, 'sumBound', bound);
  const sumOf = (updates: readonly ClientUpdate[], paramCount: number): { partial: PartialSum; clipped: number } => {
    updates.forEach((u, k) => {
      if (!(u?.delta instanceof Float32Array) || u.delta.length !== paramCount) throw new RangeError(`${name}: update ${k} (client ${u?.clientId}) delta must be a Float32Array of ${paramCount} values`);
    });
    const { terms, clipped } = weighUpdates(name, updates, opts);
    return { partial: partialSum(terms, { length: paramCount, bound }), clipped };
  };

  const strategy: ShardableStrategy<NoState> = {
    name,
    initialState: () => ({}),
    configureRound: (ctx) => configureFromPolicy(name, opts.round, ctx),
    partial: (updates, paramCount) => sumOf(updates, paramCount).partial,
    aggregatePartials(globalParams, partials, state) {
      const mean = combine(partials);
      if (mean.length !== globalParams.length) throw new RangeError(`${name}: partial sums cover ${mean.length} parameters, the model has ${globalParams.length}`);
      const params = applyStep(globalParams, mean, lr);
      const count = partials.reduce((a, p) => a + p.count, 0);
      return { params, state, metrics: { updates: count, stepNorm: lr * l2Norm(mean) } };
    },
    aggregate(globalParams, updates, state) {
      checkUpdates(name, globalParams, updates);
      const { partial, clipped } = sumOf(updates, globalParams.length);
      const result = strategy.aggregatePartials(globalParams, [partial], state);
      const metrics: Metrics = { ...result.metrics, meanStaleness: meanStaleness(updates) };
      if (opts.clipNorm !== undefined) metrics.clipped = clipped;
      return { ...result, metrics };
    },
  };
  if (opts.evaluate) {
    const evaluate = opts.evaluate;
    strategy.evaluate = (params, roundId) => evaluate(params, roundId);
  }
  return strategy;
}
