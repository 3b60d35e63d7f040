/**
 * The aggregator service: wires the round engine (pure) to its edges. The round store makes every
 * accepted update durable before the transport acknowledges it; the transport carries updates,
 * ledgers and budgets in and the model, round announcement, metrics and audit verdicts out; a timer
 * enforces deadlines. The same code runs in-process (inProcessTransport) or as a client of any broker
 * (clientTransport).
 */
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AuditVerdict, RoundMetrics } from '../../federation/index.ts';
import { topics } from '../topics.ts';
import { aggregatorAuditor, type PrivacyAuditor } from './auditor.ts';
import type { AggregatorConfig } from './config.ts';
import { loadBaseModel, publishModel, type GlobalModel, type PublishedModel } from './global-model.ts';
import { KeyDirectory } from './key-directory.ts';
import { createAggregatorMetrics, type AggregatorMetrics } from './metrics.ts';
import { RoundEngine, type AcceptedUpdate, type EngineOptions, type OpenRound, type RoundOutcome } from './round-engine.ts';
import { RoundStore } from './round-store.ts';
import { buildStrategy } from './strategy.ts';
import type { AggregatorTransport } from './transport.ts';

export interface AggregatorOptions {
  config: AggregatorConfig;
  transport: AggregatorTransport;
  /** Public keys and gateway → user; re-read by reloadCredentials(). */
  credentialsFile: string;
  log?: Logger;
  /** Where the counters go (the broker's registry in-process). */
  registry?: Registry;
  now?: () => number;
}

export interface RejectedEvent {
  gateway: string;
  clientId?: string;
  reason: string;
  detail: string;
}

export interface AggregatorEvents {
  accepted: [{ round: number; update: AcceptedUpdate; durable: number }];
  rejected: [RejectedEvent];
  'round-closed': [RoundOutcome];
  verdict: [AuditVerdict];
  error: [Error];
}

export interface AggregatorHandle {
  readonly config: AggregatorConfig;
  readonly metrics: AggregatorMetrics;
  readonly auditor: PrivacyAuditor | undefined;
  readonly events: EventEmitter<AggregatorEvents>;
  /** The open round. */
  readonly round: OpenRound;
  /** The current global model. */
  readonly model: GlobalModel;
  /** Updates accepted (and durable) in the open round. */
  readonly acceptedCount: number;
  /** Rejections in the open round, by reason. */
  readonly rejectedCounts: Readonly<Record<string, number>>;
  /** The last round's published metrics. */
  readonly lastMetrics: RoundMetrics | undefined;
  /** Updates replayed from the journal at start (a restart mid-round). */
  readonly restoredUpdates: number;
  reloadCredentials(): void;
  /** Resolves when no round close is in progress (tests, shutdown). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export async function startAggregator(opts: AggregatorOptions): Promise<AggregatorHandle> {
  const { config, transport } = opts;
  const log = opts.log ?? pino({ name: 'fedwear-aggregator', level: config.logLevel ?? 'info' }, pino.destination(2));
  const now = opts.now ?? Date.now;
  const metrics = createAggregatorMetrics(opts.registry);
  const events = new EventEmitter<AggregatorEvents>();
  let keys = KeyDirectory.fromFile(opts.credentialsFile);

  const base = await loadBaseModel(config.modelDir);
  const spec = base.spec;
  const strategy = buildStrategy(config);
  // Packaging (int8 quantization and ONNX export) is needed for the announcement's hash and for
  // publishing; do it once per version.
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

  let auditor: PrivacyAuditor | undefined;
  const engineOpts: EngineOptions = {
    config,
    spec,
    strategy,
    publicKeyOf: (clientId) => keys.keyOfGateway(clientId),
    auditRefusal: config.audit.enabled && config.audit.refuseFaultyUsers
      ? (clientId) => {
          const userId = keys.userOfGateway(clientId);
          return userId === undefined ? undefined : auditor?.refusal(userId);
        }
      : undefined,
    modelSha256Of: (m) => packaged(m).manifest.onnx.sha256,
  };

  const opened = RoundStore.open(config.dataDir);
  const store = opened.store;
  let state = opened.state;
  if (!state) {
    state = RoundEngine.initialState(engineOpts, base.model, now());
    store.init(state);
  } else if (state.model.params.length !== spec.paramCount) {
    throw new Error(`${config.dataDir}: the stored global model has ${state.model.params.length} parameters, ${config.modelDir} has ${spec.paramCount}; use a fresh dataDir for another architecture`);
  }
  const engine = new RoundEngine(engineOpts, state);
  let restored = 0;
  for (const r of opened.records) {
    if (r.t === 'accept') {
      const { t: _t, round: _r, ...u } = r;
      engine.accept(u);
      restored++;
    } else engine.reject(r.reason);
  }
  if (restored > 0 || opened.tornBytes > 0) log.info({ round: engine.round.id, restored, tornBytes: opened.tornBytes }, 'round resumed from the journal');
  let durable = restored;
  metrics.openRound.set(engine.round.id);
  metrics.roundAccepted.set(durable);

  let closing: Promise<void> | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let lastMetrics: RoundMetrics | undefined;

  const publishRound = async (): Promise<void> => {
    const model = packaged(engine.model);
    await transport.publish(topics.modelCurrent(), model.bytes, { retain: true });
    await transport.publish(topics.roundsCurrent(), JSON.stringify(engine.announcement()), { retain: true });
  };

  const scheduleDeadline = (): void => {
    clearTimeout(timer);
    if (stopped) return;
    const wait = Math.max(0, engine.round.deadlineMs - now()) + 1;
    // setTimeout takes at most 2^31−1 ms.
    timer = setTimeout(() => void maybeClose(), Math.min(wait, 2 ** 31 - 1));
  };

  const closeRound = (closedBy: 'quorum' | 'buffer' | 'deadline'): Promise<void> => {
    const run = async (): Promise<void> => {
      // Everything accepted is durable before the round's commit point.
      await store.flushed();
      const outcome = engine.aggregate(now(), closedBy);
      await store.commitRound(outcome.next);
      engine.adopt(outcome.next);
      durable = 0;
      lastMetrics = outcome.metrics;
      metrics.rounds.inc({ closed_by: closedBy });
      metrics.openRound.set(engine.round.id);
      metrics.roundAccepted.set(0);
      log.info({ round: outcome.metrics.roundId, closedBy, accepted: outcome.metrics.accepted, rejected: outcome.metrics.rejected, newModel: outcome.metrics.newModelVersion, ...outcome.strategyMetrics }, 'round closed');
      const model = packaged(engine.model);
      await transport.publish(topics.modelCurrent(), model.bytes, { retain: true });
      await transport.publish(topics.metricsRounds(), JSON.stringify(outcome.metrics), { retain: true });
      await transport.publish(topics.roundsCurrent(), JSON.stringify(engine.announcement()), { retain: true });
      scheduleDeadline();
      events.emit('round-closed', outcome);
    };
    closing = run()
      .catch((err: Error) => {
        log.error({ err }, 'closing the round failed');
        events.emit('error', err);
      })
      .finally(() => {
        closing = null;
      });
    return closing;
  };

  const maybeClose = async (): Promise<void> => {
    if (stopped || closing) return;
    const decision = engine.closeDecision(now());
    if (decision === null) {
      // The timer measures time on a monotonic clock, the deadline is wall-clock time (gateways
      // read it): if the wall clock went back meanwhile, wait again instead of never closing.
      scheduleDeadline();
      return;
    }
    if (decision === 'extend') {
      engine.extend(now());
      store.saveState(engine.state);
      log.info({ round: engine.round.id, accepted: engine.acceptedCount, deadlineMs: engine.round.deadlineMs }, 'deadline reached with too few updates; round extended');
      await transport.publish(topics.roundsCurrent(), JSON.stringify(engine.announcement()), { retain: true });
      scheduleDeadline();
      return;
    }
    await closeRound(decision);
    // Updates may have queued up past the quorum while closing (buffered mode).
    await maybeClose();
  };

  /** Journal writes of accepted updates not yet on disk. */
  const pendingCommits = new Set<Promise<void>>();
  const onUpdate = async (gateway: string, payload: Uint8Array): Promise<void> => {
    while (closing) await closing;
    if (stopped) throw new Error('aggregator stopped');
    const round = engine.round.id;
    const j = engine.judge(payload, gateway);
    if (!j.ok) {
      engine.reject(j.reason);
      store.noteRejected(round, j.reason);
      metrics.rejected.inc({ reason: j.reason });
      log.info({ round, gateway, clientId: j.clientId, reason: j.reason, detail: j.detail }, 'update rejected');
      events.emit('rejected', { gateway, clientId: j.clientId, reason: j.reason, detail: j.detail });
      // A copy refused because its original was accepted must not be acknowledged before that
      // original is durable: the gateway takes either PUBACK as "delivered" (a re-send from a new
      // session can arrive while the first copy's journal line is still being written).
      if ((j.reason === 'duplicate' || j.reason === 'replay') && pendingCommits.size > 0) await Promise.all(pendingCommits);
      return;
    }
    // Counted before any await, so a copy arriving meanwhile is judged a duplicate.
    engine.accept(j.update);
    const commit = store.commitAccepted(round, j.update);
    pendingCommits.add(commit);
    try {
      await commit;
    } finally {
      pendingCommits.delete(commit);
    }
    // The round may have closed while the write was in flight; it counted the update then.
    if (engine.round.id === round) durable++;
    metrics.accepted.inc();
    metrics.roundAccepted.set(durable);
    log.info({ round, clientId: j.update.clientId, staleness: j.update.staleness, norm: j.update.norm, durable }, 'update accepted');
    events.emit('accepted', { round, update: j.update, durable });
    void maybeClose();
  };

  auditor = aggregatorAuditor({
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
    update: onUpdate,
    ledger: (userId, payload) => (auditor ? auditor.ledgerEntry(userId, payload) : Promise.resolve()),
    budget: (userId, payload) => (auditor ? auditor.budget(userId, payload) : Promise.resolve()),
  });
  if (auditor) await auditor.restore();
  await publishRound();
  log.info({ round: engine.round.id, model: engine.model.version, mode: config.mode, strategy: strategy.name, transport: transport.kind, restored }, 'aggregator started');
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
      return durable;
    },
    get rejectedCounts() {
      return engine.rejectedCounts;
    },
    get lastMetrics() {
      return lastMetrics;
    },
    restoredUpdates: restored,
    reloadCredentials() {
      keys = KeyDirectory.fromFile(opts.credentialsFile);
      log.info('aggregator: credentials reloaded');
    },
    async idle() {
      while (closing) await closing;
      await auditor?.settled();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      while (closing) await closing;
      await transport.close();
      await auditor?.close();
      await store.close();
      metrics.remove();
    },
  };
}
