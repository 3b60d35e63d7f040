/**
 * The main job, as far as it is built: N simulated users, each wearable streaming over its own
 * serial link into its own gateway store; each gateway cuts windows and features, fine-tunes the
 * base model privately on its own labelled windows (DP-SGD, ledger first), and every model is
 * scored on held-out windows against the simulator's truth. Federation over MQTT comes with the
 * gateway service and aggregator (issues 5-7).
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeUsers, simulateDevice, simulateTruth, socatAvailable, truthWindows, type UserProfile } from '../device-sim/index.ts';
import { RecordStore, fineTuneRound, type RoundTrainingParameters } from '../gateway/index.ts';
import {
  FEATURE_COUNT,
  OnnxModelSession,
  demographicProfile,
  errorMetrics,
  keytelPredictor,
  loadModelDir,
  windowRecords,
} from '../models/index.ts';
import { createBudget, LedgerWriter, generateLedgerKeyPair, rdpAccountant } from '../privacy/index.ts';
import { deliver, type Transport } from './deliver.ts';

export interface LocalDemoOptions {
  users: number;
  seed: number;
  /** Simulated days per user; the last one is held out for evaluation. */
  days: number;
  outDir: string;
  modelDir: string;
  transport: Transport | 'auto';
  epsilonMax: number;
  delta: number;
  log: (line: string) => void;
}

export interface UserResult {
  userId: string;
  cluster: string;
  framesOk: number;
  framesBad: number;
  trainWindows: number;
  testWindows: number;
  epsilon: number;
  skipped?: string;
  mae: { keytel: number; base: number; personalized: number };
}

const START_MS = Date.UTC(2026, 0, 5);
const DAY_S = 86_400;

function predictKeytel(X: Float32Array, n: number): Float64Array {
  return Float64Array.from(keytelPredictor()(X, n) as ArrayLike<number>);
}

async function runUser(user: UserProfile, opts: LocalDemoOptions, transport: Transport, base: Awaited<ReturnType<typeof loadModelDir>>, baseSession: OnnxModelSession): Promise<UserResult> {
  const dir = path.join(opts.outDir, 'gateways', user.userId);
  fs.mkdirSync(dir, { recursive: true });
  const sim = { startMs: START_MS, durationS: opts.days * DAY_S, seed: opts.seed, schedule: 'day' as const };
  const records = [...simulateDevice(user, sim)];
  const delivered = await deliver(records, path.join(dir, 'store'), transport);

  // Everything below uses only what the gateway stored, as a real gateway would.
  const stored = [...RecordStore.readAll(path.join(dir, 'store'))];
  const { windows } = windowRecords(stored, demographicProfile(user));
  const testStart = START_MS + (opts.days - 1) * DAY_S * 1000;
  const train = windows.filter((w) => w.endMs <= testStart && w.label);
  const truthByStart = new Map(truthWindows(simulateTruth(user, sim), 60).map((t) => [t.startMs, t.meanKcalPerMin]));
  const test = windows.filter((w) => w.startMs >= testStart && truthByStart.has(w.startMs));

  const rows = (ws: typeof windows): Float32Array => {
    const X = new Float32Array(ws.length * FEATURE_COUNT);
    ws.forEach((w, i) => X.set(w.features, i * FEATURE_COUNT));
    return X;
  };
  const Xtest = rows(test);
  const yTest = Float64Array.from(test, (w) => truthByStart.get(w.startMs)!);
  const keytel = errorMetrics(predictKeytel(Xtest, test.length), yTest).mae;
  const basePred = await baseSession.run(Xtest, test.length);
  const baseMae = errorMetrics(basePred, yTest).mae;

  const keys = generateLedgerKeyPair();
  const budget = createBudget({ epsilonMax: opts.epsilonMax, delta: opts.delta, accountant: rdpAccountant });
  const ledger = await LedgerWriter.open(path.join(dir, 'ledger.jsonl'), {
    privateKey: keys.privateKeyPem,
    userId: user.userId,
    deviceId: String(user.deviceId),
    accountant: rdpAccountant,
    delta: opts.delta,
    epsilonMax: opts.epsilonMax,
  });
  const round: RoundTrainingParameters = {
    round: 1,
    epsilonPerRound: opts.epsilonMax,
    maxGradNorm: 1,
    sampleRate: 0.2,
    steps: 100,
    delta: opts.delta,
    accountant: 'rdp',
    mu: 1,
    lr: 0.02,
    optimizer: 'sgd',
  };
  const features = rows(train);
  const labels = Float32Array.from(train, (w) => w.label!.kcalPerMin);
  const result = await fineTuneRound(
    {
      features,
      labels,
      normalization: base.params.normalization,
      globalModel: { arch: base.params.model.arch, params: Float32Array.from(base.params.model.params), version: base.manifest.modelVersion },
      round,
      budget,
      ledger,
    },
    { exportOnnx: true, diagnostics: false },
  );
  let personalized = baseMae;
  let epsilon = 0;
  let skipped: string | undefined;
  if (result.status === 'trained') {
    const session = await OnnxModelSession.create(result.onnxBytes!);
    personalized = errorMetrics(await session.run(Xtest, test.length), yTest).mae;
    await session.release();
    epsilon = result.epsilonAfter;
  } else {
    skipped = result.reason;
  }
  await ledger.close();
  return {
    userId: user.userId,
    cluster: user.cluster,
    framesOk: delivered.framesOk,
    framesBad: delivered.framesBad,
    trainWindows: train.length,
    testWindows: test.length,
    epsilon,
    skipped,
    mae: { keytel, base: baseMae, personalized },
  };
}

export async function runLocalDemo(opts: LocalDemoOptions): Promise<{ users: UserResult[]; transport: Transport; reportFile: string }> {
  const transport: Transport = opts.transport === 'auto' ? (socatAvailable() ? 'pty' : 'memory') : opts.transport;
  opts.log(
    transport === 'pty'
      ? 'transport: real serial links (socat pseudo-terminals), one per wearable'
      : 'transport: in-process streams (socat is not installed; apt-get install socat for real serial links)',
  );
  const base = await loadModelDir(opts.modelDir);
  const baseSession = await OnnxModelSession.create(base.onnx);
  const users = makeUsers({ count: opts.users, seed: opts.seed });
  const results: UserResult[] = [];
  for (const [i, user] of users.entries()) {
    const r = await runUser(user, opts, transport, base, baseSession);
    results.push(r);
    opts.log(
      `[${i + 1}/${users.length}] ${r.userId} (${r.cluster}): ${r.framesOk} frames, ${r.trainWindows} labelled windows; ` +
        `MAE keytel ${r.mae.keytel.toFixed(2)}, base ${r.mae.base.toFixed(2)}, personalized ${r.mae.personalized.toFixed(2)} kcal/min; ` +
        (r.skipped ? `training skipped: ${r.skipped}` : `epsilon ${r.epsilon.toFixed(2)} of ${opts.epsilonMax}`),
    );
  }
  await baseSession.release();
  fs.mkdirSync(opts.outDir, { recursive: true });
  const reportFile = path.join(opts.outDir, 'report.json');
  fs.writeFileSync(reportFile, JSON.stringify({ options: { ...opts, log: undefined }, transport, users: results }, null, 2) + '\n');
  return { users: results, transport, reportFile };
}

/** Mean of each model's MAE per cluster, and overall. */
export function clusterTable(users: UserResult[]): string {
  const groups = new Map<string, UserResult[]>();
  for (const u of users) groups.set(u.cluster, [...(groups.get(u.cluster) ?? []), u]);
  groups.set('all users', users);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const lines = ['cluster               users  Keytel   base   personalized  max epsilon'];
  for (const [name, us] of groups) {
    lines.push(
      `${name.padEnd(20)} ${String(us.length).padStart(6)} ${mean(us.map((u) => u.mae.keytel)).toFixed(2).padStart(7)} ${mean(us.map((u) => u.mae.base)).toFixed(2).padStart(6)} ` +
        `${mean(us.map((u) => u.mae.personalized)).toFixed(2).padStart(14)} ${Math.max(...us.map((u) => u.epsilon)).toFixed(2).padStart(12)}`,
    );
  }
  return lines.join('\n') + '\n(MAE in kcal/min on each user\'s held-out last day, against the simulator\'s truth)';
}
