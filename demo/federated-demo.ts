/**
 * The main job: a whole private federation on the embedded broker. Simulated users each get a
 * wearable and a gateway service of their own (data dir, Ed25519 key, broker credentials); the
 * in-process aggregator runs synchronous rounds; every gateway trains with DP-SGD under its budget
 * and publishes its ledger, which the broker's auditor checks. At the end every model is scored on
 * the users' held-out days against the simulator's truth, and the report is written.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { parseAggregatorConfig, startBroker, startInProcessAggregator, type AggregatorHandle, type BrokerHandle, type RoundOutcome } from '../broker/index.ts';
import { socatAvailable } from '../device-sim/index.ts';
import type { AuditVerdict } from '../federation/index.ts';
import { DEFAULT_BASE_MODEL_DIR, GatewayService, ModelFiles, parseGatewayConfig } from '../gateway/index.ts';
import { loadModelDir } from '../models/index.ts';
import { generateLedgerKeyPair } from '../privacy/index.ts';
import { writeDemoCredentials } from './credentials.ts';
import { openDeviceLink, type DeviceLink, type Transport } from './device-link.ts';
import { int8Onnx, keytelMae, onnxMaes, type HeldOut } from './evaluate.ts';
import { makePopulation, simulateParticipant, type Participant } from './population.ts';
import { groupByCluster, meanMaes, targetsOf, type DemoReport, type RoundReport, type UserReport } from './report.ts';
import { renderReportHtml } from './report-html.ts';
import { startDashboard, type Dashboard } from './dashboard.ts';
import { planTraining, type LocalTraining } from './training-plan.ts';

export const STRATEGIES = ['fedavg', 'fedadam', 'trimmed-mean', 'coordinate-median', 'norm-bounding'] as const;
export type StrategyName = (typeof STRATEGIES)[number];
export const COMPRESSIONS = ['int8-dense', 'int8-topk', 'float32'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export interface FederatedDemoOptions {
  users: number;
  rounds: number;
  seed: number;
  /** Each user's epsilon budget. */
  epsilon: number;
  delta: number;
  strategy: StrategyName;
  compression: Compression;
  transport: Transport | 'auto';
  reportDir: string;
  nonPrivate: boolean;
  /** Labelled training sessions per user, seconds. */
  trainS: number;
  /** Held-out period per user, seconds ('day' schedule). */
  testS: number;
  trainSchedule?: 'day' | 'session';
  modelDir?: string;
  local?: Partial<LocalTraining>;
  /** Keep the gateways', broker's and aggregator's data (default: removed). */
  keepWorkDir?: boolean;
  /** Stops the run early (Ctrl-C): the waits reject and everything started is stopped and removed. */
  signal?: AbortSignal;
  /** Serve the live privacy dashboard on this loopback port (0: any free port); absent: no dashboard. */
  dashboardPort?: number;
  /**
   * Awaited once the dashboard is serving, before any gateway starts: lets a caller (the browser
   * test) open the page and see it connected before the first budget is published.
   */
  onDashboard?: (url: string) => Promise<void>;
}

export interface DemoProgress {
  log(line: string): void;
  /** A phase with a known number of steps (simulating, delivering, rounds). */
  phase(name: string, total: number): void;
  tick(name: string, status?: string): void;
  done(): void;
}

export const quietProgress: DemoProgress = { log: () => undefined, phase: () => undefined, tick: () => undefined, done: () => undefined };

interface Member {
  p: Participant;
  username: string;
  dir: string;
  publicKeyPem: string;
  link?: DeviceLink;
  gw?: GatewayService;
  stored: number;
  epsilonByRound: Array<{ round: number; epsilon: number }>;
  skips: string[];
}

function strategyConfig(name: StrategyName): Record<string, unknown> {
  switch (name) {
    case 'fedadam':
      return { name, serverLearningRate: 0.05 };
    case 'trimmed-mean':
      return { name, trimFraction: 0.2 };
    case 'norm-bounding':
      return { name, maxNorm: 3 };
    default:
      return { name };
  }
}

const errText = (v: AuditVerdict | undefined): string => (v === undefined ? 'no verdict' : v.ok ? 'ok' : v.faults.map((f) => `${f.kind}: ${f.detail}`).join('; '));

function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error('demo interrupted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export async function runFederatedDemo(opts: FederatedDemoOptions, progress: DemoProgress = quietProgress): Promise<{ report: DemoReport; jsonFile: string; htmlFile: string }> {
  const t0 = Date.now();
  const transport: Transport = opts.transport === 'auto' ? (socatAvailable() ? 'pty' : 'memory') : opts.transport;
  if (transport === 'pty' && !socatAvailable()) throw new Error('--transport pty needs socat (apt-get install socat)');
  progress.log(
    transport === 'pty'
      ? 'transport: real serial links (socat pseudo-terminals), one per wearable, read by each gateway as its serial device'
      : 'transport: in-process streams into each gateway (socat is not installed or --transport memory; apt-get install socat for real serial links)',
  );
  const plan = planTraining({ rounds: opts.rounds, epsilonBudget: opts.epsilon, delta: opts.delta, nonPrivate: opts.nonPrivate, local: opts.local });
  progress.log(
    opts.nonPrivate
      ? `NON-PRIVATE comparison: sigma ${plan.noiseMultiplier} (no noise in practice), clip ${plan.maxGradNorm} as in the private run; epsilon after ${opts.rounds} rounds ${plan.epsilonAfterAllRounds.toExponential(2)}`
      : `DP-SGD per round: q ${plan.sampleRate}, ${plan.steps} steps, sigma ${plan.noiseMultiplier.toFixed(3)}, C ${plan.maxGradNorm}; epsilon after ${opts.rounds} rounds ${plan.epsilonAfterAllRounds.toFixed(3)} <= budget ${opts.epsilon} at delta ${opts.delta}`,
  );
  const modelDir = opts.modelDir ?? DEFAULT_BASE_MODEL_DIR;
  const base = await loadModelDir(modelDir);
  fs.mkdirSync(opts.reportDir, { recursive: true });

  // 1. The population and its data.
  const users = makePopulation(opts);
  const members: Member[] = [];
  let broker: BrokerHandle | undefined;
  let agg: AggregatorHandle | undefined;
  let dashboard: Dashboard | undefined;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-demo-'));
  try {
    progress.phase('simulate', users.length);
    for (const user of users) {
      if (opts.signal?.aborted) throw new Error('demo interrupted');
      const p = simulateParticipant(user, opts);
      const dir = path.join(workDir, 'gateways', user.userId);
      fs.mkdirSync(path.join(dir, 'keys'), { recursive: true, mode: 0o700 });
      const keys = generateLedgerKeyPair();
      fs.writeFileSync(path.join(dir, 'keys', 'ledger-key.pem'), keys.privateKeyPem, { mode: 0o600 });
      members.push({ p, username: `gw-${user.userId}`, dir, publicKeyPem: keys.publicKeyPem, stored: 0, epsilonByRound: [], skips: [] });
      progress.tick('simulate', `${user.userId} (${user.cluster})`);
    }
    const heldOut: HeldOut[] = members.map((m) => ({ X: m.p.testX, y: m.p.testY }));
    const keytel = heldOut.map(keytelMae);
    const baseMaes = await onnxMaes(base.onnx, heldOut);

    const { file: credentialsFile, passwords } = await writeDemoCredentials(workDir, members.map((m) => ({ username: m.username, userId: m.p.user.userId, publicKeyPem: m.publicKeyPem })));
    broker = await startBroker(
      {
        credentialsFile,
        tcp: { host: '127.0.0.1', port: 0 },
        persistence: { type: 'memory' },
        limits: { connectionsPerIpPerSecond: 10_000, connectionBurstPerIp: 10_000 },
        ...(opts.dashboardPort === undefined ? {} : { websocket: { host: '127.0.0.1', port: 0, path: '/mqtt' } }),
      },
      { logger: pino({ level: 'silent' }) },
    );
    const url = `mqtt://127.0.0.1:${broker.tcpPort}`;
    if (opts.dashboardPort !== undefined) {
      dashboard = await startDashboard({ brokerWsUrl: `ws://127.0.0.1:${broker.wsPort}/mqtt`, username: 'auditor', password: passwords.get('auditor')!, port: opts.dashboardPort });
      progress.log(`live privacy dashboard (MQTT over WebSocket as the auditor): ${dashboard.url}`);
      await opts.onDashboard?.(dashboard.url);
    }

    // 2. Gateways: each with its own data dir, key and credentials; the wearable's data through its link.
    progress.phase('gateways', members.length);
    for (const m of members) {
      m.link = await openDeviceLink(transport);
      const profile = { sex: m.p.user.sex, ageY: m.p.user.ageY, weightKg: m.p.user.weightKg, heightCm: m.p.user.heightCm, ...(m.p.restingHrBpm === undefined ? {} : { restingHrBpm: m.p.restingHrBpm }) };
      const config = parseGatewayConfig(
        {
          userId: m.p.user.userId,
          clientId: m.username,
          passwordFile: 'password',
          broker: { url, reconnect: { minMs: 100, maxMs: 2000 }, settleMs: 0 },
          dataDir: 'data',
          keyFile: 'keys/ledger-key.pem',
          device: m.link.device,
          profile,
          budget: { epsilonMax: plan.epsilonMax, delta: plan.delta, accountant: 'rdp' },
          updates: { encodings: [opts.compression, 'float32'].filter((e, i, a) => a.indexOf(e) === i) },
          http: { host: '127.0.0.1', port: 0 },
          model: { baseDir: modelDir },
          logLevel: 'info',
        },
        m.dir,
      );
      m.gw = await GatewayService.start(config, { password: passwords.get(m.username)!, logger: m.link.logger, processMetrics: false });
      m.gw.on('round', (e) => {
        if (e.phase === 'trained' && e.epsilonAfter !== undefined) m.epsilonByRound.push({ round: e.roundId, epsilon: e.epsilonAfter });
        if (e.phase === 'skipped') m.skips.push(`round ${e.roundId}: ${e.reason}`);
      });
      m.stored = (await abortable(m.link.send(m.gw, m.p.train), opts.signal)).stored;
      const h = m.gw.health();
      progress.tick('gateways', `${m.p.user.userId}: ${m.stored} records stored, ${h.data.labelledWindows} labelled windows`);
    }
    const trainable = members.filter((m) => m.gw!.health().data.labelledWindows >= 32);
    if (trainable.length === 0) throw new Error('no gateway has enough labelled windows to train (32); give more --train-minutes');
    if (trainable.length < members.length) progress.log(`${members.length - trainable.length} gateway(s) have fewer than 32 labelled windows and will wait out every round`);

    // 3. The aggregator: sync rounds, quorum = every gateway able to train.
    const verdicts = new Map<string, AuditVerdict>();
    /**
     * Verdicts that were not ok when issued. An honest run has none: a budget summary that trails
     * its ledger entry by a moment is "behind", not a fault (the auditor's grace). Any here are
     * counted in the report; each user's audit column is the last verdict.
     */
    const transientFaults: string[] = [];
    const rounds: RoundReport[] = [];
    const clusterOf = members.map((m) => m.p.user.cluster);
    const clusterMean = (maes: number[]): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const [name, items] of groupByCluster(maes.map((mae, i) => ({ cluster: clusterOf[i], mae })))) out[name] = items.reduce((a, b) => a + b.mae, 0) / items.length;
      out.all = maes.reduce((a, b) => a + b, 0) / maes.length;
      return out;
    };
    const aggConfig = parseAggregatorConfig(
      {
        dataDir: 'aggregator-data',
        modelDir,
        credentialsFile,
        round: { durationMs: 90_000, quorum: trainable.length, minUpdates: 1 },
        strategy: strategyConfig(opts.strategy),
        training: {
          sampleRate: plan.sampleRate,
          steps: plan.steps,
          noiseMultiplier: plan.noiseMultiplier,
          maxGradNorm: plan.maxGradNorm,
          delta: plan.delta,
          accountant: 'rdp',
          mu: plan.mu,
          lr: plan.lr,
          optimizer: plan.optimizer,
        },
        update: { normBound: plan.normBound, encodings: [...new Set([opts.compression, 'float32'])], ...(opts.compression === 'int8-topk' ? { topKDensity: 0.1 } : {}) },
        audit: { enabled: true, refuseFaultyUsers: true },
        logLevel: 'silent',
      },
      workDir,
    );
    progress.phase('rounds', opts.rounds);
    const allRounds = new Promise<void>((resolve, reject) => {
      const onClosed = async (outcome: RoundOutcome): Promise<void> => {
        const mt = outcome.metrics;
        // Read before the evaluation's await: the gateways start on the next round meanwhile.
        const eps = members.map((m) => m.gw!.health().privacy.epsilonSpent);
        const fed = await onnxMaes(int8Onnx(base.params.model.arch, outcome.next.model.params, base.params.normalization, mt.newModelVersion), heldOut);
        const rejected = Object.values(mt.rejected).reduce((a, b) => a + b, 0);
        const r: RoundReport = { round: mt.roundId, participants: mt.accepted, rejected, rejectedByReason: mt.rejected, bytes: mt.bytes, closedBy: mt.closedBy, durationMs: mt.durationMs, federatedMae: clusterMean(fed) };
        rounds.push(r);
        progress.tick(
          'rounds',
          `round ${r.round}: ${r.participants} updates (${r.rejected} rejected), ${(r.bytes / 1024).toFixed(1)} KiB, closed by ${r.closedBy} in ${(r.durationMs / 1000).toFixed(1)} s; ` +
            `global MAE ${r.federatedMae.all.toFixed(3)} kcal/min; max epsilon ${Math.max(...eps) > 1e4 ? Math.max(...eps).toExponential(2) : Math.max(...eps).toFixed(3)}`,
        );
        if (rounds.length >= opts.rounds) resolve();
      };
      const start = async (): Promise<void> => {
        agg = await startInProcessAggregator(broker!, aggConfig);
        agg.events.on('verdict', (v) => {
          if (!v.ok) transientFaults.push(`${v.userId}: ${errText(v)}`);
          verdicts.set(v.userId, v);
        });
        agg.events.on('rejected', (r) => progress.log(`aggregator rejected an update from ${r.gateway}: ${r.reason} (${r.detail})`));
        agg.events.on('round-closed', (o) => void onClosed(o).catch(reject));
        agg.events.on('error', reject);
      };
      start().catch(reject);
    });
    await abortable(allRounds, opts.signal);

    // 4. Stop the gateways (a round in training finishes; the outbox's last messages go out), then read
    // their privacy state and personal models, and let the auditor finish.
    for (const m of members) await m.gw!.stop();
    await agg!.idle();
    if (transientFaults.length > 0) progress.log(`audit: ${transientFaults.length} interim verdict(s) were not ok (e.g. ${transientFaults[0].slice(0, 120)}…); the last verdict per user is reported`);
    const fedParams = agg!.model.params;
    const fedMaes = await onnxMaes(int8Onnx(base.params.model.arch, fedParams, base.params.normalization, agg!.model.version), heldOut);
    const userReports: UserReport[] = [];
    for (const [i, m] of members.entries()) {
      const personal = new ModelFiles(path.join(m.dir, 'data', 'model')).readPersonal();
      const personalMae = personal ? (await onnxMaes(personal.onnx, [heldOut[i]]))[0] : fedMaes[i];
      const h = m.gw!.health();
      userReports.push({
        id: m.p.user.userId,
        cluster: m.p.user.cluster,
        epsilon: h.privacy.epsilonSpent,
        delta: plan.delta,
        budget: plan.epsilonMax,
        audit: h.privacy.ledgerEntries === 0 ? 'ok (no spend)' : errText(verdicts.get(m.p.user.userId)),
        epsilonByRound: m.epsilonByRound,
        roundsSkipped: m.skips,
        labelledWindows: h.data.labelledWindows,
        testWindows: heldOut[i].y.length,
        recordsStored: m.stored,
        mae: { keytel: keytel[i], base: baseMaes[i], federated: fedMaes[i], personalized: personalMae },
      });
    }
    const clusters = [...groupByCluster(userReports)].map(([name, us]) => ({ name, users: us.length, mae: meanMaes(us) }));
    const overall = { users: userReports.length, mae: meanMaes(userReports) };
    const report: DemoReport = {
      v: 1,
      createdAt: new Date().toISOString(),
      wallTimeS: (Date.now() - t0) / 1000,
      options: { users: opts.users, rounds: opts.rounds, seed: opts.seed, strategy: opts.strategy, compression: opts.compression, transport, nonPrivate: opts.nonPrivate, trainS: opts.trainS, testS: opts.testS, trainSchedule: opts.trainSchedule ?? 'day' },
      training: {
        sampleRate: plan.sampleRate,
        steps: plan.steps,
        noiseMultiplier: plan.noiseMultiplier,
        maxGradNorm: plan.maxGradNorm,
        lr: plan.lr,
        mu: plan.mu,
        optimizer: plan.optimizer,
        delta: plan.delta,
        epsilonMax: plan.epsilonMax,
        normBound: plan.normBound,
      },
      users: userReports,
      clusters,
      overall,
      rounds: rounds.sort((a, b) => a.round - b.round),
      baseMae: clusterMean(baseMaes),
      auditInterimFaults: transientFaults.length,
      targets: targetsOf(overall.mae, clusters),
    };
    const jsonFile = path.join(opts.reportDir, 'report.json');
    const htmlFile = path.join(opts.reportDir, 'report.html');
    fs.writeFileSync(jsonFile, JSON.stringify(report, null, 2) + '\n');
    fs.writeFileSync(htmlFile, renderReportHtml(report));
    progress.done();
    return { report, jsonFile, htmlFile };
  } finally {
    for (const m of members) {
      await m.gw?.stop().catch(() => undefined);
      await m.link?.close().catch(() => undefined);
    }
    await (agg as AggregatorHandle | undefined)?.stop().catch(() => undefined);
    await dashboard?.close().catch(() => undefined);
    await broker?.close().catch(() => undefined);
    if (opts.keepWorkDir) progress.log(`working files kept in ${workDir}`);
    else fs.rmSync(workDir, { recursive: true, force: true });
  }
}
