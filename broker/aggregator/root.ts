/**
 * The shard root (broker/README.md, "Shards"): announces rounds and publishes models exactly like a
 * single aggregator, but takes no updates itself. It sums the shards' progress for the quorum and
 * deadline, asks every expected shard for its partial sum (shards/close), makes sure no client is
 * counted by two shards, and combines the partial sums with the strategy's aggregatePartials.
 *
 * Its durable state is the single aggregator's state.json; it journals nothing: the accepted updates
 * are in the shards' journals, and a restarted root just asks again.
 */
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import type { RoundMetrics, ShardableStrategy } from '../../federation/index.ts';
import { parseTopic, topicFilters, topics } from '../topics.ts';
import type { AggregatorEvents, AggregatorHandle, AggregatorOptions } from './aggregator.ts';
import { aggregatorAuditor, type PrivacyAuditor } from './auditor.ts';
import { loadBaseModel, publishModel, type GlobalModel, type PublishedModel } from './global-model.ts';
import { KeyDirectory } from './key-directory.ts';
import { createAggregatorMetrics } from './metrics.ts';
import { addCounts, aggregateShards, followsPlan, isShardable, planExclusions, type ExclusionPlan } from './root-round.ts';
import { RoundEngine, type EngineOptions } from './round-engine.ts';
import { RoundStore } from './round-store.ts';
import { decodeShardPartial, decodeShardProgress, encodeShardMessage, type ShardClose, type ShardPartial, type ShardProgress } from './shard-messages.ts';
import { buildStrategy } from './strategy.ts';
import { clientTransport, type ClientTransportOptions } from './transport.ts';

export interface RootOptions extends Omit<AggregatorOptions, 'transport'> {
  broker: Pick<ClientTransportOptions, 'url' | 'username' | 'password' | 'clientId' | 'mqtt'>;
  /** A close request is published again this often while shards have not answered. Default 5 s. */
  closeRetryMs?: number;
}

export async function startRoot(opts: RootOptions): Promise<AggregatorHandle> {
  const { config } = opts;
  const expect = config.shards?.role === 'root' ? (config.shards.expect ?? []) : [];
  if (expect.length === 0) throw new Error('startRoot: the config has no shards: {role: root, expect: [...]}');
  const log = (opts.log ?? pino({ name: 'fedwear-aggregator', level: config.logLevel ?? 'info' }, pino.destination(2))).child({ shard: 'root' });
  const now = opts.now ?? Date.now;
  const metrics = createAggregatorMetrics(opts.registry);
  const events = new EventEmitter<AggregatorEvents>();
  let keys = KeyDirectory.fromFile(opts.credentialsFile);

  const base = await loadBaseModel(config.modelDir);
  const spec = base.spec;
  const built = buildStrategy(config);
  if (!isShardable(built)) throw new Error(`strategy.name: ${built.name} cannot be sharded`);
  const strategy: ShardableStrategy<unknown> = built;
  const published = new Map<string, PublishedModel>([[base.model.version, base.published]]);
  const packaged = (m: GlobalModel): PublishedModel => {
    let p = published.get(m.version);
    if (!p) {
      p = publishModel(spec, m);
      published.clear();
      published.set(m.version, p);
    }
    return p;
  };
  const engineOpts: EngineOptions = { config, spec, strategy, publicKeyOf: (c) => keys.keyOfGateway(c), modelSha256Of: (m) => packaged(m).manifest.onnx.sha256 };

  const opened = RoundStore.open(config.dataDir);
  const store = opened.store;
  let state = opened.state;
  if (!state) {
    state = RoundEngine.initialState(engineOpts, base.model, now());
    store.init(state);
  } else if (state.model.params.length !== spec.paramCount) {
    throw new Error(`${config.dataDir}: the stored global model has ${state.model.params.length} parameters, ${config.modelDir} has ${spec.paramCount}; use a fresh dataDir for another architecture`);
  }
  // The engine keeps the round, the announcement and the model; its accepted list stays empty here.
  const engine = new RoundEngine(engineOpts, state);
  metrics.openRound.set(engine.round.id);

  const progress = new Map<string, ShardProgress>();
  /** Copies found in two shards by an earlier close of this round that resumed: not distinct updates. */
  let knownCopies = 0;
  // Unique across restarts, so an answer to a request of an earlier root run is never taken for one of this run.
  let attempt = now();
  let pending: { round: number; attempt: number; answers: Map<string, ShardPartial>; done: () => void } | undefined;
  let closing: Promise<void> | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let lastMetrics: RoundMetrics | undefined;
  const warnedUnexpected = new Set<string>();

  const rawAccepted = (): number => {
    let n = 0;
    for (const p of progress.values()) if (p.round === engine.round.id) n += p.accepted;
    return n;
  };
  const shardRejected = (): Record<string, number> => addCounts(...[...progress.values()].filter((p) => p.round === engine.round.id).map((p) => p.rejected));

  const onShardMessage = (topic: string, payload: Buffer): void => {
    const t = parseTopic(topic);
    if (t?.kind !== 'shard-progress' && t?.kind !== 'shard-partial') return;
    if (!expect.includes(t.shard)) {
      if (!warnedUnexpected.has(t.shard)) log.warn({ shard: t.shard, expect }, 'a shard not in shards.expect is taking updates: they are NOT counted; add it to shards.expect');
      warnedUnexpected.add(t.shard);
      return;
    }
    try {
      if (t.kind === 'shard-progress') {
        const p = decodeShardProgress(payload);
        if (p.shard !== t.shard) throw new Error(`progress on ${topic} names shard ${p.shard}`);
        progress.set(p.shard, p);
        metrics.roundAccepted.set(rawAccepted() - knownCopies);
        void maybeClose();
        return;
      }
      const a = decodeShardPartial(payload);
      if (a.shard !== t.shard) throw new Error(`partial on ${topic} names shard ${a.shard}`);
      if (!pending || a.round !== pending.round || a.attempt !== pending.attempt) return;
      pending.answers.set(a.shard, a);
      if (expect.every((s) => pending!.answers.has(s))) pending.done();
    } catch (err) {
      log.error({ err, topic }, 'shard message refused');
    }
  };

  const transport = clientTransport({
    ...opts.broker,
    log,
    audit: config.audit.enabled,
    updates: null,
    extra: { filters: [topicFilters.allShardProgress, topicFilters.allShardPartials], handle: onShardMessage },
  });

  const publishClose = (msg: ShardClose): Promise<void> => transport.publish(topics.shardsClose(), encodeShardMessage(msg), { retain: true });

  /** Publishes a close request and resolves with every expected shard's answer to it. */
  const ask = async (exclude: ExclusionPlan['exclude']): Promise<ShardPartial[]> => {
    const round = engine.round.id;
    attempt++;
    const answers = new Map<string, ShardPartial>();
    const all = new Promise<void>((resolve) => (pending = { round, attempt, answers, done: resolve }));
    const msg: ShardClose = { v: 1, round, attempt, action: 'close', exclude };
    await publishClose(msg);
    // A shard that is down answers when it is back (the request is retained); say who is missing.
    const retry = setInterval(() => {
      log.warn({ round, attempt, missing: expect.filter((s) => !answers.has(s)) }, 'waiting for shards to answer the close request');
      void publishClose(msg).catch(() => undefined);
    }, opts.closeRetryMs ?? 5_000);
    try {
      await all;
    } finally {
      clearInterval(retry);
      pending = undefined;
    }
    if (stopped) throw new Error('shard root stopped while waiting for the shards');
    return expect.map((s) => answers.get(s)!);
  };

  const resume = async (): Promise<void> => {
    await publishClose({ v: 1, round: engine.round.id, attempt: ++attempt, action: 'resume', exclude: {} });
  };

  const scheduleDeadline = (): void => {
    clearTimeout(timer);
    if (stopped) return;
    const wait = Math.max(0, engine.round.deadlineMs - now()) + 1;
    timer = setTimeout(() => void maybeClose(), Math.min(wait, 2 ** 31 - 1));
  };

  const extend = async (): Promise<void> => {
    engine.extend(now());
    store.saveState(engine.state);
    log.info({ round: engine.round.id, accepted: rawAccepted() - knownCopies, deadlineMs: engine.round.deadlineMs }, 'deadline reached with too few updates; round extended');
    await transport.publish(topics.roundsCurrent(), JSON.stringify(engine.announcement()), { retain: true });
    scheduleDeadline();
  };

  const closeRound = async (closedBy: 'quorum' | 'deadline'): Promise<void> => {
    let answers = await ask({});
    let plan = planExclusions(answers);
    // The shards hold their updates while the root closes, so the entries do not change between
    // requests: one more request applies the plan.
    if (!followsPlan(answers, plan)) {
      answers = await ask(plan.exclude);
      plan = planExclusions(answers);
      if (!followsPlan(answers, plan)) throw new Error(`round ${engine.round.id}: shards did not apply the exclusions asked for`);
    }
    const distinct = answers.reduce((n, a) => n + (a.partial?.count ?? 0), 0);
    const copies = Object.values(plan.rejected).reduce((a, b) => a + b, 0);
    const c = config.round;
    const t = now();
    if (distinct < c.minUpdates || (distinct < engine.quorum && t < engine.round.deadlineMs)) {
      // Copies held by two shards made the count look larger than it is: take updates again.
      knownCopies = copies;
      log.info({ round: engine.round.id, distinct, copies }, 'too few distinct updates after removing copies held by two shards; round resumed');
      if (t >= engine.round.deadlineMs) await extend();
      await resume();
      return;
    }
    const rejected = addCounts(...answers.map((a) => a.rejected), plan.rejected);
    const outcome = aggregateShards(engineOpts, strategy, engine.state, answers, rejected, t, closedBy);
    await store.commitRound(outcome.next);
    engine.adopt(outcome.next);
    knownCopies = 0;
    lastMetrics = outcome.metrics;
    metrics.accepted.inc(outcome.metrics.accepted);
    for (const [reason, n] of Object.entries(rejected)) metrics.rejected.inc({ reason }, n);
    metrics.rounds.inc({ closed_by: closedBy });
    metrics.openRound.set(engine.round.id);
    metrics.roundAccepted.set(0);
    log.info({ round: outcome.metrics.roundId, closedBy, accepted: outcome.metrics.accepted, rejected: outcome.metrics.rejected, newModel: outcome.metrics.newModelVersion, ...outcome.strategyMetrics }, 'round closed');
    await transport.publish(topics.modelCurrent(), packaged(engine.model).bytes, { retain: true });
    await transport.publish(topics.metricsRounds(), JSON.stringify(outcome.metrics), { retain: true });
    await transport.publish(topics.roundsCurrent(), JSON.stringify(engine.announcement()), { retain: true });
    scheduleDeadline();
    events.emit('round-closed', outcome);
  };

  const maybeClose = async (): Promise<void> => {
    if (stopped || closing) return;
    const n = rawAccepted() - knownCopies;
    const t = now();
    let decision: 'quorum' | 'deadline' | 'extend' | null = null;
    if (n >= engine.quorum) decision = 'quorum';
    else if (t >= engine.round.deadlineMs) decision = n >= config.round.minUpdates ? 'deadline' : 'extend';
    if (decision === null) return;
    const run = decision === 'extend' ? extend() : closeRound(decision);
    closing = run
      .catch((err: Error) => {
        if (stopped) return;
        log.error({ err }, 'closing the round failed; shards take updates again');
        if (decision !== 'extend') void resume().catch(() => undefined);
        // An EventEmitter throws an 'error' nobody listens to.
        if (events.listenerCount('error') > 0) events.emit('error', err);
      })
      .finally(() => {
        closing = null;
      });
    await closing;
    // Progress that came in while closing (a resumed round).
    if (decision !== 'extend') await maybeClose();
  };

  const auditor = aggregatorAuditor({
    config,
    publicKeyOf: (userId) => keys.keyOfUser(userId),
    publish: (topic, payload, o) => transport.publish(topic, payload, o),
    log,
    now,
    onVerdict: (v) => {
      metrics.verdicts.inc({ ok: String(v.ok) });
      events.emit('verdict', v);
    },
  });

  await transport.start({
    update: () => Promise.resolve(),
    ledger: (userId, payload) => (auditor ? auditor.ledgerEntry(userId, payload) : Promise.resolve()),
    budget: (userId, payload) => (auditor ? auditor.budget(userId, payload) : Promise.resolve()),
  });
  if (auditor) await auditor.restore();
  await transport.publish(topics.modelCurrent(), packaged(engine.model).bytes, { retain: true });
  await transport.publish(topics.roundsCurrent(), JSON.stringify(engine.announcement()), { retain: true });
  log.info({ round: engine.round.id, model: engine.model.version, strategy: strategy.name, expect }, 'shard root started');
  scheduleDeadline();
  void maybeClose();

  return {
    config,
    metrics,
    auditor,
    events,
    get round() {
      return engine.round;
    },
    get model() {
      return engine.model;
    },
    get acceptedCount() {
      return rawAccepted() - knownCopies;
    },
    get rejectedCounts() {
      return shardRejected();
    },
    get lastMetrics() {
      return lastMetrics;
    },
    restoredUpdates: 0,
    reloadCredentials() {
      keys = KeyDirectory.fromFile(opts.credentialsFile);
      log.info('shard root: credentials reloaded');
    },
    async idle() {
      while (closing) await closing;
      await auditor?.settled();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      pending?.done();
      while (closing) await closing;
      await transport.close();
      await auditor?.close();
      await store.close();
      metrics.remove();
    },
  };
}
