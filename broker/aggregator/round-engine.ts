/**
 * The round engine: the aggregator's pure core. It holds the global model and the open round, judges
 * each update (federation's validateUpdate plus the privacy audit), counts what it accepts and
 * refuses, decides when a round closes, and computes the next model. No I/O, no timers, no clock of
 * its own: the edges (aggregator.ts) persist what it accepts before acknowledging it, publish what it
 * produces, and call it with the time.
 *
 * Sync mode: round r trains from the model round r−1 produced; it closes on quorum, or at the
 * deadline with at least `minUpdates` (otherwise the deadline moves). Buffered mode (FedBuff, Nguyen
 * et al. 2022): every K accepted updates are aggregated; an update up to `maxStaleness` rounds
 * behind, trained from the model its round announced, still counts, discounted by its staleness.
 */
import {
  SeenUpdates,
  validateUpdate,
  type AggregateResult,
  type ClientUpdate,
  type RejectReason,
  type RoundAnnouncement,
  type RoundMetrics,
  type SeenUpdatesSnapshot,
  type SigningKey,
  type Strategy,
  type ValidatedUpdate,
} from '../../federation/index.ts';
import type { AggregatorConfig } from './config.ts';
import { withBody, type GlobalModel, type ModelSpec } from './global-model.ts';

export type AggregatorRejectReason = RejectReason | 'privacy-audit';

export interface OpenRound {
  readonly id: number;
  /** The version gateways must train from (the current global model's). */
  readonly modelVersion: string;
  readonly modelSha256: string;
  readonly openedAtMs: number;
  readonly deadlineMs: number;
}

/** Everything that survives a restart besides the open round's accepted updates (those are journaled). */
export interface EngineState {
  readonly model: GlobalModel;
  readonly strategyState: unknown;
  readonly round: OpenRound;
  /** Model version each recent round announced: buffered mode checks stale updates against it. */
  readonly versions: ReadonlyArray<readonly [number, string]>;
  /** Accepted (client, round) pairs of closed rounds still inside the staleness window. */
  readonly seen: SeenUpdatesSnapshot;
}

export interface AcceptedUpdate {
  readonly clientId: string;
  /** The round the envelope names (older than the open round when stale). */
  readonly updateRound: number;
  readonly digest: string;
  readonly staleness: number;
  readonly norm: number;
  readonly bytes: number;
  readonly delta: Float32Array;
}

export type Judgement =
  | { readonly ok: true; readonly update: AcceptedUpdate }
  | { readonly ok: false; readonly reason: AggregatorRejectReason; readonly detail: string; readonly clientId?: string };

export type CloseDecision = 'quorum' | 'buffer' | 'deadline' | 'extend' | null;

export interface RoundOutcome {
  readonly next: EngineState;
  readonly metrics: RoundMetrics;
  /** The strategy's own metrics (step norm, clipped count...). */
  readonly strategyMetrics: Record<string, number>;
}

export interface EngineOptions {
  readonly config: AggregatorConfig;
  readonly spec: ModelSpec;
  readonly strategy: Strategy<unknown>;
  /** The gateway's registered Ed25519 key (credentials file `publicKey`). */
  readonly publicKeyOf: (clientId: string) => SigningKey | undefined;
  /** Why this client's updates are refused by the privacy audit, or undefined when they are not. */
  readonly auditRefusal?: (clientId: string) => string | undefined;
  /** SHA-256 of the ONNX bytes of a model version, for the announcement. */
  readonly modelSha256Of: (model: GlobalModel) => string;
}

export class RoundEngine {
  readonly #opts: EngineOptions;
  #state: EngineState;
  #seen: SeenUpdates;
  #accepted: AcceptedUpdate[] = [];
  #rejected = new Map<string, number>();

  constructor(opts: EngineOptions, state: EngineState) {
    this.#opts = opts;
    this.#state = state;
    this.#seen = SeenUpdates.fromJSON(state.seen);
    if (state.model.params.length !== opts.spec.paramCount) {
      throw new RangeError(`round engine: the global model has ${state.model.params.length} parameters, the architecture ${opts.spec.paramCount}`);
    }
  }

  /** The state before the first round: the base model, round 1 open from `nowMs`. */
  static initialState(opts: EngineOptions, base: GlobalModel, nowMs: number): EngineState {
    const strategyState = opts.strategy.initialState(opts.spec.bodyLength);
    const round = openRound(opts, 1, base, nowMs, strategyState);
    return { model: base, strategyState, round, versions: [[1, base.version]], seen: { entries: [] } };
  }

  get state(): EngineState {
    return { ...this.#state, seen: this.#seen.toJSON() };
  }

  get round(): OpenRound {
    return this.#state.round;
  }

  get model(): GlobalModel {
    return this.#state.model;
  }

  get acceptedCount(): number {
    return this.#accepted.length;
  }

  get accepted(): readonly AcceptedUpdate[] {
    return this.#accepted;
  }

  get rejectedCounts(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.#rejected);
  }

  get maxStaleness(): number {
    const c = this.#opts.config;
    return c.mode === 'buffered' ? c.buffered!.maxStaleness : 0;
  }

  /** Updates that close the round (sync quorum, or the buffer size K). */
  get quorum(): number {
    const c = this.#opts.config;
    return c.mode === 'buffered' ? c.buffered!.bufferSize : c.round.quorum;
  }

  announcement(): RoundAnnouncement {
    const c = this.#opts.config;
    const r = this.#state.round;
    const training: RoundAnnouncement['training'] = {
      sampleRate: c.training.sampleRate,
      steps: c.training.steps,
      ...(c.training.noiseMultiplier !== undefined ? { noiseMultiplier: c.training.noiseMultiplier } : { epsilonPerRound: c.training.epsilonPerRound! }),
      maxGradNorm: c.training.maxGradNorm,
      delta: c.training.delta,
      accountant: c.training.accountant,
      mu: c.training.mu,
      lr: c.training.lr,
      optimizer: c.training.optimizer,
    };
    return {
      v: 1,
      roundId: r.id,
      modelVersion: r.modelVersion,
      modelSha256: r.modelSha256,
      deadlineMs: r.deadlineMs,
      quorum: this.quorum,
      mode: c.mode,
      maxStaleness: this.maxStaleness,
      training,
      update: {
        encodings: [...c.update.encodings],
        normBound: c.update.normBound,
        maxBytes: c.update.maxBytes,
        ...(c.update.topKDensity !== undefined ? { topKDensity: c.update.topKDensity } : {}),
      },
    };
  }

  /** Judges one envelope published on updates/<senderClientId>. Changes nothing. */
  judge(bytes: Uint8Array, senderClientId: string): Judgement {
    const c = this.#opts.config;
    const versions = new Map(this.#state.versions);
    const result = validateUpdate(bytes, {
      modelVersion: this.#state.round.modelVersion,
      shapes: this.#opts.spec.bodyShapes,
      openRound: this.#state.round.id,
      maxStaleness: this.maxStaleness,
      modelVersionOfRound: (r) => versions.get(r),
      normBound: c.update.normBound,
      maxBytes: c.update.maxBytes,
      publicKeyOf: this.#opts.publicKeyOf,
      seen: this.#seen,
      senderClientId,
      allowedEncodings: c.update.encodings,
    });
    if (!result.ok) return { ok: false, reason: result.reason, detail: result.detail, ...(result.clientId !== undefined ? { clientId: result.clientId } : {}) };
    const u: ValidatedUpdate = result.update;
    // After authentication, so only a gateway's own updates can be refused for its ledger.
    const refusal = this.#opts.auditRefusal?.(u.clientId);
    if (refusal !== undefined) return { ok: false, reason: 'privacy-audit', detail: refusal, clientId: u.clientId };
    return {
      ok: true,
      update: { clientId: u.clientId, updateRound: u.roundId, digest: u.digest, staleness: u.staleness, norm: u.norm, bytes: u.byteLength, delta: u.delta },
    };
  }

  /**
   * Counts an accepted update into the open round. The caller persists it in the same step
   * (journal), so after a restart `accept` replays it and the seen set comes back with it.
   */
  accept(u: AcceptedUpdate): void {
    this.#seen.record(u.clientId, u.updateRound, u.digest);
    this.#accepted.push(u);
  }

  reject(reason: string): void {
    this.#rejected.set(reason, (this.#rejected.get(reason) ?? 0) + 1);
  }

  closeDecision(nowMs: number): CloseDecision {
    const n = this.#accepted.length;
    const c = this.#opts.config;
    if (n >= this.quorum) return c.mode === 'buffered' ? 'buffer' : 'quorum';
    if (nowMs >= this.#state.round.deadlineMs) return n >= c.round.minUpdates ? 'deadline' : 'extend';
    return null;
  }

  /** Moves the deadline of a round that reached it with too few updates. */
  extend(nowMs: number): void {
    this.#state = { ...this.#state, round: { ...this.#state.round, deadlineMs: nowMs + this.#opts.config.round.durationMs } };
  }

  /** The next model and round from the accepted updates. Pure: the engine is unchanged until adopt(). */
  aggregate(nowMs: number, closedBy: 'quorum' | 'buffer' | 'deadline'): RoundOutcome {
    const { spec, strategy } = this.#opts;
    const s = this.#state;
    if (this.#accepted.length === 0) throw new Error(`round ${s.round.id}: no accepted update to aggregate`);
    const body = s.model.params.slice(0, spec.bodyLength);
    const updates: ClientUpdate[] = this.#accepted.map((u) => ({ delta: u.delta, weight: 1, clientId: u.clientId, staleness: u.staleness }));
    const result = strategy.aggregate(body, updates, s.strategyState);
    return closeRound(this.#opts, s, result, this.#accepted, { nowMs, closedBy, rejected: this.rejectedCounts, maxStaleness: this.maxStaleness, seen: this.#seen });
  }

  /** Takes the outcome of aggregate(): the next round opens empty. */
  adopt(next: EngineState): void {
    this.#state = next;
    this.#seen = SeenUpdates.fromJSON(next.seen);
    this.#accepted = [];
    this.#rejected = new Map();
  }
}

/**
 * The step after the strategy, shared by one aggregator (RoundEngine.aggregate) and the shard root
 * (root-round.ts, from partial sums): the new global model, the next round, what the staleness window
 * keeps, and the round's metrics over the updates that counted. Pure.
 */
export function closeRound(
  opts: EngineOptions,
  s: EngineState,
  result: AggregateResult<unknown>,
  counted: ReadonlyArray<{ readonly norm: number; readonly bytes: number }>,
  o: { nowMs: number; closedBy: RoundMetrics['closedBy']; rejected: Readonly<Record<string, number>>; maxStaleness: number; seen: SeenUpdates },
): RoundOutcome {
  const { strategy, config } = opts;
  const { nowMs } = o;
  const model: GlobalModel = { version: `global-${s.round.id}`, round: s.round.id, params: withBody(s.model.params, result.params), created: new Date(nowMs).toISOString() };
  const nextId = s.round.id + 1;
  const round = openRound(opts, nextId, model, nowMs, result.state);
  const keepFrom = nextId - o.maxStaleness;
  const versions = [...s.versions.filter(([r]) => r >= keepFrom), [nextId, model.version] as const];
  const seen = SeenUpdates.fromJSON(o.seen.toJSON());
  seen.forgetBefore(keepFrom);
  let normSum = 0;
  let normMax = 0;
  let bytes = 0;
  for (const u of counted) {
    normSum += u.norm;
    normMax = Math.max(normMax, u.norm);
    bytes += u.bytes;
  }
  const metrics: RoundMetrics = {
    v: 1,
    roundId: s.round.id,
    modelVersion: s.round.modelVersion,
    newModelVersion: model.version,
    strategy: strategy.name + (config.mode === 'buffered' ? ' (buffered)' : ''),
    closedBy: o.closedBy,
    accepted: counted.length,
    rejected: { ...o.rejected },
    bytes,
    updateNorm: { mean: normSum / counted.length, max: normMax },
    durationMs: Math.max(0, nowMs - s.round.openedAtMs),
    closedAt: new Date(nowMs).toISOString(),
  };
  return { next: { model, strategyState: result.state, round, versions, seen: seen.toJSON() }, metrics, strategyMetrics: result.metrics };
}

function openRound(opts: EngineOptions, id: number, model: GlobalModel, nowMs: number, strategyState: unknown): OpenRound {
  const cfg = opts.strategy.configureRound({ roundId: id, nowMs }, strategyState);
  return { id, modelVersion: model.version, modelSha256: opts.modelSha256Of(model), openedAtMs: nowMs, deadlineMs: cfg.deadlineMs };
}
