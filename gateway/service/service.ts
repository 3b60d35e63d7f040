/**
 * `fedwear gateway run`: the long-running per-user gateway. It wires the parts, each with one job:
 *
 *   device (serial | file | in-process) ─▶ Ingestor ─▶ RecordStore          <dataDir>/records/
 *                                             └─▶ LocalData (windows)       <dataDir>/windows/
 *                                                   ├─▶ LiveModel (ORT) ─▶ EstimateStore ─▶ HTTP API
 *                                                   └─▶ labelled examples ─▶ RoundRunner
 *   MqttLink ◀── rounds/current, model/current ──▶ RoundRunner ─▶ ledger (fsync) ─▶ Outbox ─▶ OutboxSender ─▶ MqttLink
 *
 * Data on disk outlives the process; everything in memory is rebuilt from it at start. Stop
 * (SIGTERM in the CLI) lets a round in training finish, flushes the stores, waits for the message in
 * flight to be PUBACKed, and disconnects.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { topics } from '../../broker/index.ts';
import type { UniformSource } from '../../federation/index.ts';
import type { DeviceRecord } from '../../firmware-bindings/index.ts';
import { FEATURE_COUNT } from '../../models/index.ts';
import { LedgerWriter, PRIVATE_KEY_FILE, createBudget, loadAccountant, readPrivateKeyFile, writeLedgerKeyPair, type PrivacyBudget } from '../../privacy/index.ts';
import { Ingestor } from '../ingest/ingestor.ts';
import { SerialSource } from '../ingest/serial-source.ts';
import { RecordStore } from '../store/index.ts';
import type { FineTuneOptions } from '../training/index.ts';
import type { GatewayConfig } from './config.ts';
import { EstimateStore, type Estimate } from './estimates.ts';
import { startHttpApi, type HttpApi } from './http-api.ts';
import { LiveModel } from './live-model.ts';
import { LocalData, type StoredWindow } from './local-data.ts';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.ts';
import { ModelFiles, loadBaseModel, personalOnnx, type GlobalModelState } from './model-state.ts';
import { MqttLink } from './mqtt-link.ts';
import { Outbox, type OutboxEntry } from './outbox.ts';
import { OutboxSender } from './outbox-sender.ts';
import { lockDataDir } from './data-lock.ts';
import { assertOwnerOnly } from './key-permissions.ts';
import { decideStaleUpdate, type UpdateRoundRules } from './round-rules.ts';
import { RoundRunner, type RoundEvent } from './rounds.ts';

export interface GatewayServiceOptions {
  /** Default: pino JSON on stderr at config.logLevel. */
  logger?: Logger;
  /** Use this password instead of reading config.passwordFile. */
  password?: string;
  /** Clock (round deadlines, staleness, timestamps). */
  now?: () => number;
  /** Rounding randomness of update compression (post-processing of DP output); Math.random by default. */
  random?: UniformSource;
  /** Tests and benches only: seeded DP randomness for fineTuneRound. */
  fineTune?: Pick<FineTuneOptions, 'random' | 'noise' | 'allowInsecureRandomness'>;
  /** Add prom-client's process metrics (CPU, memory, event loop) to /metrics. Default true. */
  processMetrics?: boolean;
}

export interface GatewayHealth {
  status: 'ok' | 'stopping';
  userId: string;
  clientId: string;
  uptimeS: number;
  mqtt: { connected: boolean; lastConnectedAt: string | null };
  outbox: { depth: number };
  model: { live: string | null; personal: boolean; global: string };
  data: { records: number; windows: number; labelledWindows: number; estimates: number };
  privacy: { epsilonSpent: number; epsilonMax: number; ledgerEntries: number };
  rounds: { pending: number[]; training: boolean };
}

export interface GatewayEvents {
  round: [event: RoundEvent];
  window: [window: StoredWindow];
  estimates: [estimates: Estimate[]];
  online: [];
  offline: [];
  /** An outbox entry was PUBACKed. */
  sent: [entry: OutboxEntry];
  /** An outbox update was dropped (its round closed or went too stale). */
  dropped: [entry: OutboxEntry, reason: string];
  refused: [entry: OutboxEntry];
  model: [version: string];
}

const DIRS = { records: 'records', windows: 'windows', estimates: 'estimates', outbox: 'outbox', model: 'model', keys: 'keys' } as const;
export const LEDGER_FILE = 'ledger.jsonl';

export class GatewayService extends EventEmitter<GatewayEvents> {
  readonly config: GatewayConfig;
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  httpPort = 0;
  metricsPort: number | undefined;
  /** The key signing ledger entries and updates (its public half goes into the broker's credentials). */
  readonly publicKeyPem: string;

  private readonly startedAt = Date.now();
  private stopping = false;
  private stopped: Promise<void> | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private serial: SerialSource | null = null;
  private fileStream: fs.ReadStream | null = null;
  private readonly servers: HttpApi[] = [];
  private pendingWindows: StoredWindow[] = [];
  private inference: Promise<void> = Promise.resolve();
  private inferenceScheduled = false;
  private frameErrorsSeen: Record<string, number> = {};
  private unlock: () => void = () => undefined;

  private constructor(
    config: GatewayConfig,
    log: Logger,
    metrics: GatewayMetrics,
    private readonly key: KeyObject,
    private readonly ledger: LedgerWriter,
    private readonly budget: PrivacyBudget,
    private readonly store: RecordStore,
    private readonly ingestor: Ingestor,
    private readonly data: LocalData,
    private readonly estimates: EstimateStore,
    private readonly outbox: Outbox,
    private readonly models: ModelFiles,
    private readonly live: LiveModel,
    private readonly now: () => number,
  ) {
    super();
    this.config = config;
    this.log = log;
    this.metrics = metrics;
    this.publicKeyPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
  }

  private link!: MqttLink;
  private sender!: OutboxSender;
  private rounds!: RoundRunner;

  static async start(config: GatewayConfig, opts: GatewayServiceOptions = {}): Promise<GatewayService> {
    const log = opts.logger ?? pino({ name: 'fedwear-gateway', level: config.logLevel }, pino.destination(2));
    const now = opts.now ?? Date.now;
    fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const unlock = lockDataDir(config.dataDir);
    try {
      return await GatewayService.open(config, opts, log, now, unlock);
    } catch (err) {
      unlock();
      throw err;
    }
  }

  private static async open(config: GatewayConfig, opts: GatewayServiceOptions, log: Logger, now: () => number, unlock: () => void): Promise<GatewayService> {
    const dir = (name: keyof typeof DIRS): string => path.join(config.dataDir, DIRS[name]);

    const key = await loadSigningKey(config, dir('keys'), log);
    const password = opts.password ?? readPassword(config.passwordFile);
    const accountant = await loadAccountant(config.budget.accountant);
    const budget = createBudget({ epsilonMax: config.budget.epsilonMax, delta: config.budget.delta, accountant });
    const ledger = await LedgerWriter.open(path.join(config.dataDir, LEDGER_FILE), {
      privateKey: key,
      userId: config.userId,
      deviceId: config.clientId,
      accountant,
      delta: config.budget.delta,
      epsilonMax: config.budget.epsilonMax,
      now: () => new Date(now()),
    });
    if (ledger.recoveredTornTail) log.warn('ledger: cut a torn last line left by a crash (its spend was never released)');

    const store = RecordStore.open(dir('records'));
    const rec = store.recovery;
    if (rec.truncatedTailBytes || rec.corruptRegions) log.warn({ recovery: rec }, 'record store recovered after a crash');
    const ingestor = new Ingestor(store);
    const data = LocalData.open(dir('windows'), { windowing: config.windowing, profile: config.profile, maxExamples: config.training.maxExamples });
    const estimates = EstimateStore.open(dir('estimates'));
    const outbox = Outbox.open(dir('outbox'));
    if (outbox.recovery.truncatedTailBytes) log.warn({ recovery: outbox.recovery }, 'outbox recovered after a crash');
    const models = new ModelFiles(dir('model'));
    const metrics = createGatewayMetrics({ processMetrics: opts.processMetrics ?? true });
    const live = new LiveModel();

    const svc = new GatewayService(config, log, metrics, key, ledger, budget, store, ingestor, data, estimates, outbox, models, live, now);
    svc.unlock = unlock;
    try {
      await svc.init(password, opts);
    } catch (err) {
      await svc.stop().catch(() => undefined);
      throw err;
    }
    return svc;
  }

  private async init(password: string, opts: GatewayServiceOptions): Promise<void> {
    const { config, log, metrics, outbox, models, data } = this;
    let global: GlobalModelState | null = null;
    try {
      global = models.readGlobal();
    } catch (err) {
      log.error({ err: (err as Error).message }, 'stored global model does not verify; starting from the base model');
    }
    global ??= await loadBaseModel(config.model.baseDir);
    const stored = models.readPersonal();
    const personal = stored && JSON.stringify(stored.state.layerSizes) === JSON.stringify(global.arch.layerSizes) ? stored : null;
    if (personal && personal.state.trainedOn === global.version) {
      await this.live.swap(personal.onnx, `${global.version}+personal-r${personal.state.round}`, true);
    } else if (personal) {
      await this.live.swap(personalOnnx(global, personal.state.head), `${global.version}+personal-r${personal.state.round}`, true);
    } else {
      await this.live.swap(global.onnx, global.version, false);
    }
    log.info({ model: this.live.info?.version, source: global.source }, 'live model loaded');

    metrics.epsilonMax.set(config.budget.epsilonMax);
    metrics.epsilonSpent.set(this.ledger.epsilon);
    metrics.outboxDepth.set(outbox.depth);

    this.link = new MqttLink({
      url: config.broker.url,
      clientId: config.clientId,
      username: config.username,
      password,
      caFile: config.broker.caFile,
      servername: config.broker.servername,
      keepaliveS: config.broker.keepaliveS,
      connectTimeoutMs: config.broker.connectTimeoutMs,
      reconnectMinMs: config.broker.reconnect.minMs,
      reconnectMaxMs: config.broker.reconnect.maxMs,
      refusalWindowMs: config.broker.refusalWindowMs,
      settleMs: config.broker.settleMs,
      subscriptions: [topics.roundsCurrent(), topics.modelCurrent()],
      log: log.child({ part: 'mqtt' }),
    });
    this.sender = new OutboxSender({
      outbox,
      link: this.link,
      decide: (e) => decideStaleUpdate(e as UpdateRoundRules, this.rounds.newest, this.now()),
      metrics,
      log: log.child({ part: 'outbox' }),
      onSent: (e) => this.emit('sent', e),
      onDropped: (e, reason) => this.emit('dropped', e, reason),
      onRefused: (e) => this.emit('refused', e),
    });
    this.rounds = new RoundRunner(
      {
        config,
        ledger: this.ledger,
        budget: this.budget,
        data,
        models,
        live: this.live,
        outbox,
        sender: this.sender,
        key: this.key,
        random: opts.random ?? Math.random,
        fineTune: opts.fineTune,
        now: this.now,
        metrics,
        log: log.child({ part: 'rounds' }),
        emit: (e) => this.emit('round', e),
      },
      global,
      personal?.state ?? null,
    );
    this.rounds.reconcileLedger();

    // Windows → live estimates, and labelled ones may unblock a round waiting for data.
    data.on('window', (w) => {
      metrics.windows.inc({ labelled: w.label ? 'true' : 'false' });
      this.emit('window', w);
      this.pendingWindows.push(w);
      if (!this.inferenceScheduled) {
        this.inferenceScheduled = true;
        setImmediate(() => this.estimatePending());
      }
      if (w.label) this.rounds.onLabelledWindow();
    });
    this.ingestor.on('record', (r) => {
      metrics.recordsIngested.inc();
      data.push(r);
    });
    this.replay();

    this.link.on('message', (topic, payload) => {
      if (topic === topics.roundsCurrent()) this.rounds.onAnnouncement(payload);
      else if (topic === topics.modelCurrent()) {
        void this.rounds
          .onModel(payload)
          .then((taken) => taken && this.emit('model', this.rounds.globalModel.version))
          .catch((err: Error) => log.error({ err }, 'model/current handling failed'));
      }
    });
    this.link.on('online', (sessionPresent) => {
      metrics.mqttConnected.set(1);
      log.info({ sessionPresent, outbox: outbox.depth }, 'connected to the broker');
      this.emit('online');
      this.sender.kick();
    });
    this.link.on('offline', (reason) => {
      metrics.mqttConnected.set(0);
      log.warn({ reason }, 'disconnected from the broker');
      this.emit('offline');
    });
    this.link.on('reconnecting', (attempt, delayMs) => {
      metrics.mqttReconnects.inc();
      log.debug({ attempt, delayMs }, 'reconnecting');
    });
    this.link.start();

    const health = (): GatewayHealth => this.health();
    const estimates = (q: Parameters<EstimateStore['query']>[0]) => this.estimates.query(q);
    const api = await startHttpApi(config.http.host, config.http.port, { estimates, health, registry: config.metrics ? undefined : metrics.registry, log });
    this.servers.push(api);
    this.httpPort = api.port;
    if (config.metrics) {
      const m = await startHttpApi(config.metrics.host, config.metrics.port, { registry: metrics.registry, log });
      this.servers.push(m);
      this.metricsPort = m.port;
    }
    this.startSource();
    this.flushTimer = setInterval(() => this.flushTick(), config.flushIntervalMs);
    log.info({ http: this.httpPort, metrics: this.metricsPort, dataDir: config.dataDir, outbox: outbox.depth, epsilon: this.ledger.epsilon }, 'gateway running');
  }

  /** Re-windows the record store's tail after a restart (LocalData skips windows it persisted). */
  private replay(): void {
    const dir = path.join(this.config.dataDir, DIRS.records);
    const since = this.data.replaySinceMs();
    let n = 0;
    for (const r of since === null ? RecordStore.readAll(dir) : RecordStore.readSince(dir, since)) {
      this.data.push(r);
      n++;
    }
    this.data.flush();
    if (n) this.log.info({ records: n, windows: this.data.windowCount }, 'replayed stored records through the windowing');
  }

  private startSource(): void {
    const dev = this.config.device;
    if (dev.source === 'serial') {
      const serial = new SerialSource({ path: dev.path, baudRate: dev.baudRate });
      this.serial = serial;
      serial.on('data', (chunk) => this.ingestor.push(chunk));
      serial.on('open', (p) => this.log.info({ path: p }, 'device connected'));
      serial.on('disconnect', (why) => {
        this.ingestor.reconnects++;
        this.ingestor.flush();
        this.log.warn({ reason: why }, 'device disconnected; reconnecting');
      });
      serial.on('error', (err) => this.log.warn({ err: err.message }, 'serial error'));
      serial.start();
    } else if (dev.source === 'file') {
      const stream = fs.createReadStream(dev.path);
      this.fileStream = stream;
      stream.on('data', (chunk) => this.ingestor.push(chunk as Buffer));
      stream.on('end', () => {
        this.ingestor.flush();
        this.syncFrameErrors();
        this.log.info({ file: dev.path, ...this.ingestor.stats() }, 'end of the device file');
      });
      stream.on('error', (err) => this.log.error({ err: err.message, file: dev.path }, 'cannot read the device file'));
    }
  }

  /** Frames from an in-process device (decoded, stored and windowed like serial data). */
  ingestBytes(chunk: Uint8Array): void {
    if (this.stopping) throw new Error('gateway is stopping');
    this.ingestor.push(chunk);
  }

  /** Already-decoded records from an in-process source (BLE, tests, benches). */
  ingestRecords(records: Iterable<DeviceRecord>): void {
    if (this.stopping) throw new Error('gateway is stopping');
    for (const r of records) {
      this.store.append(r);
      this.metrics.recordsIngested.inc();
      this.data.push(r);
    }
  }

  private estimatePending(): void {
    this.inferenceScheduled = false;
    const batch = this.pendingWindows;
    this.pendingWindows = [];
    if (batch.length === 0) return;
    const rows = new Float32Array(batch.length * FEATURE_COUNT);
    batch.forEach((w, i) => rows.set(this.data.features(w), i * FEATURE_COUNT));
    this.inference = this.inference.then(async () => {
      try {
        const { values, version, seconds } = await this.live.run(rows, batch.length);
        this.metrics.inferenceLatency.observe(seconds);
        const out: Estimate[] = batch.map((w, i) => ({ deviceId: w.deviceId, startMs: w.startMs, endMs: w.endMs, kcalPerMin: values[i], modelVersion: version }));
        for (const e of out) this.estimates.add(e);
        this.metrics.estimates.inc(out.length);
        this.emit('estimates', out);
      } catch (err) {
        this.log.error({ err }, 'inference failed');
      }
    });
  }

  private flushTick(): void {
    try {
      this.ingestor.flush();
      this.data.flush();
      this.estimates.flush();
      this.syncFrameErrors();
    } catch (err) {
      this.log.error({ err }, 'flush failed');
    }
  }

  /** The decoder counts bad frames by kind; the metric follows it. */
  private syncFrameErrors(): void {
    const errors = this.ingestor.decoder.stats.errors as Record<string, number>;
    for (const [kind, n] of Object.entries(errors)) {
      const d = n - (this.frameErrorsSeen[kind] ?? 0);
      if (d > 0) this.metrics.frameErrors.inc({ kind }, d);
      this.frameErrorsSeen[kind] = n;
    }
  }

  /** Makes every ingested record, window and estimate durable (estimates of windows cut so far included). */
  async flush(): Promise<void> {
    this.ingestor.flush();
    this.data.flush();
    if (this.inferenceScheduled) this.estimatePending();
    await this.inference;
    this.estimates.flush();
  }

  health(): GatewayHealth {
    const live = this.live.info;
    return {
      status: this.stopping ? 'stopping' : 'ok',
      userId: this.config.userId,
      clientId: this.config.clientId,
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      mqtt: { connected: this.link?.online ?? false, lastConnectedAt: this.link?.lastConnectedAt ? new Date(this.link.lastConnectedAt).toISOString() : null },
      outbox: { depth: this.outbox.depth },
      model: { live: live?.version ?? null, personal: live?.personal ?? false, global: this.rounds?.globalModel.version ?? '' },
      data: { records: this.store.durableCount + this.store.pendingCount, windows: this.data.windowCount, labelledWindows: this.data.labelledTotal, estimates: this.estimates.count },
      privacy: { epsilonSpent: this.ledger.epsilon, epsilonMax: this.config.budget.epsilonMax, ledgerEntries: this.ledger.entries.length },
      rounds: { pending: this.rounds?.pendingRounds ?? [], training: this.rounds?.training ?? false },
    };
  }

  get outboxDepth(): number {
    return this.outbox.depth;
  }

  get online(): boolean {
    return this.link?.online ?? false;
  }

  /** Graceful stop: finish the round in training, flush everything, let the message in flight be PUBACKed, disconnect. */
  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    this.stopping = true;
    this.log.info('stopping');
    if (this.flushTimer) clearInterval(this.flushTimer);
    await this.serial?.stop();
    this.fileStream?.destroy();
    await this.rounds?.stop();
    await this.flush();
    await this.sender?.stop();
    await this.link?.stop();
    this.metrics.mqttConnected.set(0);
    await Promise.all(this.servers.map((s) => s.close()));
    await this.teardown();
    this.log.info({ outbox: this.outbox.depth, records: this.store.durableCount }, 'stopped');
  }

  private async teardown(): Promise<void> {
    const steps: Array<() => unknown> = [
      () => this.outbox.close(),
      () => this.store.close(),
      () => this.data.close(),
      () => this.estimates.close(),
      () => this.ledger.close(),
      () => this.live.close(),
      () => this.unlock(),
    ];
    for (const s of steps) {
      try {
        await s();
      } catch (err) {
        this.log.error({ err }, 'shutdown step failed');
      }
    }
  }
}

function readPassword(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`passwordFile: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const pw = text.replace(/\r?\n$/, '');
  if (!pw) throw new Error(`passwordFile: ${file} is empty`);
  return pw;
}

/** keyFile if configured (it must exist); else <dataDir>/keys/ledger-key.pem, created on first start. */
async function loadSigningKey(config: GatewayConfig, keysDir: string, log: Logger): Promise<KeyObject> {
  if (config.keyFile) {
    if (!fs.existsSync(config.keyFile)) throw new Error(`keyFile: ${config.keyFile} does not exist (create one with fedwear privacy ledger keygen --out DIR)`);
    assertOwnerOnly(config.keyFile, 'keyFile');
    return readPrivateKeyFile(config.keyFile).catch((err: Error) => {
      throw new Error(`keyFile: ${err.message}`);
    });
  }
  const file = path.join(keysDir, PRIVATE_KEY_FILE);
  if (!fs.existsSync(file)) {
    const written = await writeLedgerKeyPair(keysDir);
    log.warn({ publicKey: written.publicKeyPath, keyId: written.keyId }, 'created the gateway signing key; register its public key with the broker (fedwear broker passwd --public-key)');
  }
  assertOwnerOnly(file, 'signing key');
  return readPrivateKeyFile(file);
}
