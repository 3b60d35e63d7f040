/**
 * FedAdam (Reddi et al. 2021, "Adaptive federated optimization", ICLR, Algorithm 2): the server
 * treats the mean client delta Δ_t as a pseudo-gradient and takes an Adam step,
 *
 *   m_t = β1·m_{t−1} + (1 − β1)·Δ_t
 *   v_t = β2·v_{t−1} + (1 − β2)·Δ_t²
 *   θ_{t+1} = θ_t + η·m_t / (√v_t + τ)
 *
 * with m_{−1} = 0 and v_{−1} = τ² (the paper asks v_{−1} ≥ τ²) and no bias correction, as in the
 * paper (Flower's FedAdam adds Adam's bias correction to η; not done here). τ bounds the adaptivity:
 * a coordinate whose Δ stays near 0 moves at most η·|m|/τ.
 *
 * m and v live in the state object (Float64Array, so the moments do not lose precision round after
 * round); aggregate returns a new state and never modifies the one given. Δ_t is the exact weighted
 * mean of partial-sum.ts, so FedAdam shards exactly too.
 */
import { DEFAULT_SUM_BOUND, combine, partialSum, type PartialSum } from './partial-sum.ts';
import { checkRoundPolicy, configureFromPolicy } from './round-policy.ts';
import type { AggregateResult, ClientUpdate, Metrics, RoundPolicy, ShardableStrategy } from './types.ts';
import { checkPositive, checkUpdates, l2Norm, meanStaleness } from './vector.ts';
import { checkWeightingOptions, weighUpdates, type WeightingOptions } from './weighting.ts';

export interface FedAdamOptions extends Omit<WeightingOptions, 'clipNorm'> {
  readonly round: RoundPolicy;
  /** η, the server learning rate. No default: it depends on the client learning rate and steps. */
  readonly serverLearningRate: number;
  /** Default 0.9. */
  readonly beta1?: number;
  /** Default 0.99 (Reddi et al.'s choice). */
  readonly beta2?: number;
  /** Adaptivity τ; default 1e-3. */
  readonly tau?: number;
  readonly sumBound?: number;
  readonly evaluate?: (params: Float32Array, roundId: number) => Metrics;
}

export interface FedAdamState {
  /** Aggregations done so far. */
  readonly step: number;
  readonly m: Float64Array;
  readonly v: Float64Array;
}

export function fedAdam(opts: FedAdamOptions): ShardableStrategy<FedAdamState> {
  const name = 'fedadam';
  checkRoundPolicy(opts.round);
  checkWeightingOptions(name, opts);
  const eta = opts.serverLearningRate;
  checkPositive(name, 'serverLearningRate', eta);
  const beta1 = opts.beta1 ?? 0.9;
  const beta2 = opts.beta2 ?? 0.99;
  const tau = opts.tau ?? 1e-3;
  for (const [k, b] of [['beta1', beta1], ['beta2', beta2]] as const) {
    if (!(b >= 0 && b < 1)) throw new RangeError(`${name}: ${k} must be in [0, 1) (got ${b})`);
  }
  checkPositive(name, 'tau', tau);
  const bound = opts.sumBound ?? DEFAULT_SUM_BOUND;
  checkPositive(name, 'sumBound', bound);

  const checkState = (state: FedAdamState, n: number): void => {
    if (!(state?.m instanceof Float64Array) || !(state.v instanceof Float64Array) || state.m.length !== n || state.v.length !== n) {
      throw new RangeError(`${name}: state must hold m and v as Float64Arrays of ${n} values (use initialState(${n}))`);
    }
  };

  const strategy: ShardableStrategy<FedAdamState> = {
    name,
    initialState(paramCount: number): FedAdamState {
      if (!Number.isInteger(paramCount) || paramCount < 0) throw new RangeError(`${name}: paramCount must be a non-negative integer (got ${paramCount})`);
      return { step: 0, m: new Float64Array(paramCount), v: new Float64Array(paramCount).fill(tau * tau) };
    },
    configureRound: (ctx) => configureFromPolicy(name, opts.round, ctx),
    partial(updates: readonly ClientUpdate[], paramCount: number): PartialSum {
      updates.forEach((u, k) => {
        if (!(u?.delta instanceof Float32Array) || u.delta.length !== paramCount) throw new RangeError(`${name}: update ${k} (client ${u?.clientId}) delta must be a Float32Array of ${paramCount} values`);
      });
      return partialSum(weighUpdates(name, updates, opts).terms, { length: paramCount, bound });
    },
    aggregatePartials(globalParams, partials, state): AggregateResult<FedAdamState> {
      const n = globalParams.length;
      checkState(state, n);
      const delta = combine(partials);
      if (delta.length !== n) throw new RangeError(`${name}: partial sums cover ${delta.length} parameters, the model has ${n}`);
      const m = new Float64Array(n);
      const v = new Float64Array(n);
      const params = new Float32Array(n);
      let stepSq = 0;
      for (let i = 0; i < n; i++) {
        const d = delta[i];
        m[i] = beta1 * state.m[i] + (1 - beta1) * d;
        v[i] = beta2 * state.v[i] + (1 - beta2) * d * d;
        const step = (eta * m[i]) / (Math.sqrt(v[i]) + tau);
        params[i] = globalParams[i] + step;
        stepSq += step * step;
      }
      const count = partials.reduce((a, p) => a + p.count, 0);
      return { params, state: { step: state.step + 1, m, v }, metrics: { updates: count, meanDeltaNorm: l2Norm(delta), stepNorm: Math.sqrt(stepSq) } };
    },
    aggregate(globalParams, updates, state) {
      checkUpdates(name, globalParams, updates);
      const result = strategy.aggregatePartials(globalParams, [strategy.partial(updates, globalParams.length)], state);
      return { ...result, metrics: { ...result.metrics, meanStaleness: meanStaleness(updates) } };
    },
  };
  if (opts.evaluate) {
    const evaluate = opts.evaluate;
    strategy.evaluate = (params, roundId) => evaluate(params, roundId);
  }
  return strategy;
}
