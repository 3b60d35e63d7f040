/**
 * The Strategy contract, in the spirit of Flower's `Strategy` (configure a round, aggregate,
 * evaluate): one small interface, many strategies. Unlike Flower, a strategy keeps no hidden state:
 * whatever it carries between rounds (FedAdam's moments) is an explicit state object that goes in
 * and comes out, so the aggregator can persist it with the round (durable round state) and a shard
 * root can hold it alone.
 *
 * Convention: a client's delta is Δ = θ_local − θ_global of the shared body, and the new global is
 * θ_global + (server step), as in Reddi et al. 2021 (Δ is a negative pseudo-gradient).
 */
import type { PartialSum } from './partial-sum.ts';

export type Metrics = Record<string, number>;

export interface ClientUpdate {
  readonly delta: Float32Array;
  /** Declared weight; only used by strategies configured with weighting 'declared'. */
  readonly weight: number;
  readonly clientId: string;
  /** Rounds between the model the client trained from and the one being updated (buffered mode). */
  readonly staleness?: number;
}

/** What a gateway must honour to take part in a round (see privacy/ and design.md, Privacy semantics). */
export interface DpRequirements {
  /** σ: the smallest noise multiplier accepted. */
  readonly minNoiseMultiplier: number;
  /** C: the largest per-sample clipping norm accepted. */
  readonly maxGradNorm: number;
  /** δ of the (ε, δ) guarantee. */
  readonly delta: number;
  /** Upper bound on the Poisson sampling rate q, if any. */
  readonly maxSampleRate?: number;
}

export interface RoundPolicy {
  /** From opening to deadline. */
  readonly durationMs: number;
  /** Updates that close the round early. */
  readonly quorum: number;
  readonly dp: DpRequirements;
  /** Rounds an update may lag and still be accepted (buffered asynchronous mode); default 0. */
  readonly maxStaleness?: number;
  /** L2 bound the aggregator validates against, told to gateways so they can scale down rather than be rejected. */
  readonly updateNormBound?: number;
}

export interface RoundContext {
  readonly roundId: number;
  readonly nowMs: number;
}

export interface RoundConfig {
  readonly roundId: number;
  readonly deadlineMs: number;
  readonly quorum: number;
  readonly dp: DpRequirements;
  readonly maxStaleness: number;
  readonly updateNormBound?: number;
  /** The strategy's name, for gateways' logs and auditors. */
  readonly strategy: string;
}

export interface AggregateResult<S> {
  readonly params: Float32Array;
  readonly state: S;
  readonly metrics: Metrics;
}

export interface Strategy<S = unknown> {
  readonly name: string;
  /** The state before the first round, for a model of `paramCount` shared-body parameters. */
  initialState(paramCount: number): S;
  configureRound(ctx: RoundContext, state: S): RoundConfig;
  /** New global parameters from the current ones and the round's accepted updates. Inputs are not modified. */
  aggregate(globalParams: Float32Array, updates: readonly ClientUpdate[], state: S): AggregateResult<S>;
  /** Server-side evaluation of new parameters, if the aggregator was given a way to evaluate. */
  evaluate?(params: Float32Array, roundId: number, state: S): Metrics;
}

/**
 * A strategy whose aggregate is a function of one weighted sum: shards compute `partial` over their
 * share of the updates and a root calls `aggregatePartials`. For any split,
 * aggregatePartials(g, [partial(A), partial(B)], s) equals aggregate(g, A ∪ B, s) exactly.
 */
export interface ShardableStrategy<S = unknown> extends Strategy<S> {
  partial(updates: readonly ClientUpdate[], paramCount: number): PartialSum;
  aggregatePartials(globalParams: Float32Array, partials: readonly PartialSum[], state: S): AggregateResult<S>;
}

/** State of a strategy that carries nothing between rounds. */
export type NoState = Readonly<Record<string, never>>;
