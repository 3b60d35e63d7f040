/**
 * One aggregator shard (broker/README.md, "Shards"): an MQTT 5 client that takes its share of the
 * updates through a shared subscription, judges each one with the round engine exactly as a single
 * aggregator would (signature, version, round, shape, norm, replay within the shard), makes it durable
 * in its own journal before the PUBACK, and answers the root's close request with a partial sum.
 *
 * Two connections: updates are acknowledged one at a time by mqtt.js (the next is not read before the
 * handler resolves), and a shard holds updates back while the root closes a round; the control
 * messages that end that wait (announcement, resume) must therefore come through a second session.
 */
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { parseRoundAnnouncement, type RoundAnnouncement, type ShardableStrategy } from '../../federation/index.ts';
import { topics, topicFilters } from '../topics.ts';
import type { AggregatorConfig } from './config.ts';
import { loadBaseModel } from './global-model.ts';
import { KeyDirectory } from './key-directory.ts';
import { createAggregatorMetrics, type AggregatorMetrics } from './metrics.ts';
import { isShardable } from './root-round.ts';
import { RoundEngine, type EngineOptions, type EngineState } from './round-engine.ts';
import { RoundStore } from './round-store.ts';
import { decodeShardClose, encodeShardMessage, type ShardClose, type ShardPartial, type ShardProgress } from './shard-messages.ts';
import { buildStrategy } from './strategy.ts';
import { clientTransport, type AggregatorTransport, type ClientTransportOptions } from './transport.ts';

/** Where and as whom to connect; the shard opens its two sessions from this. */
export type BrokerConnection = Pick<ClientTransportOptions, 'url' | 'username' | 'password' | 'mqtt'> & { clientId: string };

export interface ShardOptions {
  config: AggregatorConfig;
  broker: BrokerConnection;
  credentialsFile: string;
  log?: Logger;
  registry?: Registry;
  now?: () => number;
  /** MQTT 5 session expiry of the updates session (s): what the shard has not acknowledged waits this long for it. */
  sessionExpirySeconds?: number;
}

export interface ShardEvents {
  accepted: [{ round: number; clientId: string }];
  rejected: [{ round: number; gateway: string; reason: string }];
  answered: [{ round: number; attempt: number; count: number; excluded: number }];
  round: [number];
}

export interface ShardHandle {
  readonly id: string;
  readonly metrics: AggregatorMetrics;
  readonly events: EventEmitter<ShardEvents>;
  /** The round the shard follows; undefined before the first announcement. */
  readonly roundId: number | undefined;
  readonly acceptedCount: number;
  readonly restoredUpdates: number;
  reloadCredentials(): void;
  stop(): Promise<void>;
}

export async function startShard(opts: ShardOptions): Promise<ShardHandle> {
  const { config } = opts;
  const id = config.shards?.role === 'shard' ? config.shards.id : undefined;
  if (!id) throw new Error('startShard: the config has no shards: {role: shard, id}');
  const log = (opts.log ?? pino({ name: 'fedwear-aggregator', level: config.logLevel ?? 'info' }, pino.destination(2))).child({ shard: id });
  const now = opts.now ?? Date.now;
  const metrics = createAggregatorMetrics(opts.registry);
  const events = new EventEmitter<ShardEvents>();
  let keys = KeyDirectory.fromFile(opts.credentialsFile);
  const base = await loadBaseModel(config.modelDir);
  const spec = base.spec;
  const built = buildStrategy(config);
  if (!isShardable(built)) throw new Error(`strategy ${built.name} cannot be sharded`);
  const strategy: ShardableStrategy<unknown> = built;
  let announcedSha = base.published.manifest.onnx.sha256;
  const engineOpts: EngineOptions = {
    config,
    spec,
    strategy,
    publicKeyOf: (clientId) => keys.keyOfGateway(clientId),
    modelSha256Of: () => announcedSha,
  };

  // The engine judges against the round the root announced; the shard never aggregates with it, so
  // its model is the base model (only its size is checked).
  const stateFor = (a: RoundAnnouncement, openedAtMs: number): EngineState => ({
    model: base.model,
    strategyState: strategy.initialState(spec.bodyLength),
    round: { id: a.roundId, modelVersion: a.modelVersion, modelSha256: a.modelSha256, openedAtMs, deadlineMs: a.deadlineMs },
    versions: [[a.roundId, a.modelVersion]],
    seen: { entries: [] },
  });

  const opened = RoundStore.open(config.dataDir);
  const store = opened.store;
  let engine: RoundEngine | undefined;
  let restored = 0;
  if (opened.state) {
    engine = new RoundEngine(engineOpts, opened.state);
    for (const r of opened.records) {
      if (r.t === 'accept') {
        const { t: _t, round: _r, ...u } = r;
        engine.accept(u);
        restored++;
      } else engine.reject(r.reason);
    }
    if (restored > 0) log.info({ round: engine.round.id, restored }, 'shard round resumed from the journal');
  }
  let durable = restored;
  /** Set while the root closes the round: updates wait (unacknowledged) until it resumes or moves on. */
  let frozen: number | undefined;
  /** The last round this shard sent a partial sum for. */
  let answered: number | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;
  let changed = new Promise<void>((r) => (wake = r));
  const signal = (): void => {
    wake?.();
    changed = new Promise<void>((r) => (wake = r));
  };

  let control: AggregatorTransport | undefined;
  // Progress is coalesced: one publish in flight, then the latest figures.
  let progressBusy = false;
  let progressDirty = false;
  const publishProgress = (): void => {
    if (!engine || !control) return;
    if (progressBusy) {
      progressDirty = true;
      return;
    }
    progressBusy = true;
    progressDirty = false;
    const msg: ShardProgress = { v: 1, shard: id, round: engine.round.id, accepted: engine.acceptedCount, rejected: engine.rejectedCounts };
    control
      .publish(topics.shardProgress(id), encodeShardMessage(msg), { retain: true })
      .catch((err: Error) => log.warn({ err: err.message }, 'publishing shard progress failed'))
      .finally(() => {
        progressBusy = false;
        if (progressDirty && !stopped) publishProgress();
      });
  };

  const onAnnouncement = async (payload: Buffer): Promise<void> => {
    const a = parseRoundAnnouncement(payload);
    if (engine && a.roundId < engine.round.id) return;
    if (engine && a.roundId === engine.round.id) {
      // The same round again: moved deadline, or the root restarted. Either way updates flow again.
      if (frozen !== undefined) log.info({ round: a.roundId }, 'round re-announced; taking updates again');
      frozen = undefined;
      signal();
      publishProgress();
      return;
    }
    if (engine && engine.acceptedCount > 0 && answered !== engine.round.id) {
      // Normal after a shard restart during a close; otherwise the root lost its state, and these
      // updates are not in the new model.
      log.warn({ round: engine.round.id, accepted: engine.acceptedCount, next: a.roundId }, 'the root moved on, and this shard sent no partial sum for the round since it started');
    }
    announcedSha = a.modelSha256;
    const next = stateFor(a, now());
    // Everything accepted for the old round is durable (it was in the partial sum the root took).
    if (engine) await store.commitRound(next);
    else store.init(next);
    engine = new RoundEngine(engineOpts, next);
    durable = 0;
    frozen = undefined;
    metrics.openRound.set(a.roundId);
    metrics.roundAccepted.set(0);
    log.info({ round: a.roundId, model: a.modelVersion }, 'following round');
    events.emit('round', a.roundId);
    signal();
    publishProgress();
  };

  const answer = async (req: ShardClose): Promise<void> => {
    const e = engine!;
    frozen = req.round;
    // Accepted updates whose journal write is in flight are in the engine already: wait for the disk.
    await store.flushed();
    const excluded = req.exclude[id] ?? [];
    const accepted = e.accepted;
    const kept = accepted.filter((u) => !excluded.includes(u.clientId));
    const msg: ShardPartial = {
      v: 1,
      shard: id,
      round: req.round,
      attempt: req.attempt,
      entries: accepted.map((u) => ({ clientId: u.clientId, digest: u.digest, norm: u.norm, bytes: u.bytes, staleness: u.staleness })),
      excluded: accepted.filter((u) => excluded.includes(u.clientId)).map((u) => u.clientId),
      rejected: e.rejectedCounts,
      ...(kept.length > 0
        ? { partial: strategy.partial(kept.map((u) => ({ delta: u.delta, weight: 1, clientId: u.clientId, staleness: u.staleness })), spec.bodyLength) }
        : {}),
    };
    await control!.publish(topics.shardPartial(id), encodeShardMessage(msg), { retain: false });
    answered = req.round;
    log.info({ round: req.round, attempt: req.attempt, count: kept.length, excluded: msg.excluded.length }, 'partial sum sent');
    events.emit('answered', { round: req.round, attempt: req.attempt, count: kept.length, excluded: msg.excluded.length });
  };

  const handleControl = async (topic: string, payload: Buffer): Promise<void> => {
    try {
      if (topic === topics.roundsCurrent()) return await onAnnouncement(payload);
      if (topic !== topics.shardsClose()) return;
      const req = decodeShardClose(payload);
      if (!engine || req.round !== engine.round.id) return;
      if (req.action === 'resume') {
        frozen = undefined;
        signal();
        log.info({ round: req.round }, 'root resumed the round');
        return;
      }
      await answer(req);
    } catch (err) {
      // A bad control message must not cost the session: log it and go on.
      log.error({ err, topic }, 'control message not handled');
    }
  };

  // mqtt.js reads the next packet of a session only when the handler of the previous one is done, and
  // the PUBACK of our own partial is such a packet: handling a control message in the handler would
  // deadlock. They are queued instead, in order.
  let controlWork = Promise.resolve();
  const onControl = (topic: string, payload: Buffer): void => {
    controlWork = controlWork.then(() => handleControl(topic, payload)).catch((err: Error) => log.error({ err, topic }, 'control message not handled'));
  };

  const onUpdate = async (gateway: string, payload: Uint8Array): Promise<void> => {
    while (!stopped && (!engine || frozen !== undefined)) await changed;
    if (stopped || !engine) throw new Error('shard stopped');
    const e = engine;
    const round = e.round.id;
    const j = e.judge(payload, gateway);
    if (!j.ok) {
      e.reject(j.reason);
      store.noteRejected(round, j.reason);
      metrics.rejected.inc({ reason: j.reason });
      log.info({ round, gateway, clientId: j.clientId, reason: j.reason, detail: j.detail }, 'update rejected');
      events.emit('rejected', { round, gateway, reason: j.reason });
      publishProgress();
      return;
    }
    // Counted before any await, so a copy arriving meanwhile is judged a duplicate.
    e.accept(j.update);
    await store.commitAccepted(round, j.update);
    if (engine === e) durable++;
    metrics.accepted.inc();
    metrics.roundAccepted.set(durable);
    log.info({ round, clientId: j.update.clientId, norm: j.update.norm, durable }, 'update accepted');
    events.emit('accepted', { round, clientId: j.update.clientId });
    publishProgress();
  };

  const common = { url: opts.broker.url, username: opts.broker.username, password: opts.broker.password, log, audit: false };
  control = clientTransport({
    ...common,
    clientId: `${opts.broker.clientId}.control`,
    updates: null,
    // Control state comes back as retained messages: no session to keep.
    mqtt: { ...opts.broker.mqtt, clean: true },
    extra: { filters: [topics.roundsCurrent(), topics.shardsClose()], handle: onControl },
  });
  const updates = clientTransport({
    ...common,
    clientId: opts.broker.clientId,
    updates: topicFilters.sharedUpdates(config.shards!.group),
    mqtt: { ...opts.broker.mqtt, protocolVersion: 5, properties: { sessionExpiryInterval: opts.sessionExpirySeconds ?? 24 * 3600 } },
  });
  await control.start({ update: () => Promise.resolve(), ledger: () => Promise.resolve(), budget: () => Promise.resolve() });
  await updates.start({ update: onUpdate, ledger: () => Promise.resolve(), budget: () => Promise.resolve() });
  log.info({ round: engine?.round.id, group: config.shards!.group, restored }, 'shard started');

  return {
    id,
    metrics,
    events,
    get roundId() {
      return engine?.round.id;
    },
    get acceptedCount() {
      return durable;
    },
    restoredUpdates: restored,
    reloadCredentials() {
      keys = KeyDirectory.fromFile(opts.credentialsFile);
      log.info('shard: credentials reloaded');
    },
    async stop() {
      stopped = true;
      signal();
      await updates.close();
      await controlWork;
      await control?.close();
      await store.close();
      metrics.remove();
    },
  };
}
