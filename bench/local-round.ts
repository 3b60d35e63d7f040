/**
 * One local, private fine-tuning round on a gateway (gateway/training/): 2,000 examples, an
 * 11-32-16-1 tanh MLP (models/base does not exist yet), batch size 64 with Opacus's semantics
 * (q = 1/32, 32 steps = one epoch), CSPRNG Poisson sampling and secure_mode noise, quantization-
 * aware forward passes, the ledger entry fsynced to tmpdir, re-quantization and the body update.
 * The phases are timed apart too: planning (given sigma, or calibrated against the history), the
 * DP-SGD loop alone, and the int8 ONNX export.
 * Run: npx tsx bench/local-round.ts
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fineTuneRound, planRound, runDpSgd, type RoundTrainingParameters } from '../gateway/training/index.ts';
import { Mlp, MlpGradientSource, exportInt8Onnx, gaussian, initializeParams, quantizeMlp, seededRng, type MlpArchitecture } from '../models/index.ts';
import { LedgerWriter, clearRdpCache, createBudget, createGaussianNoise, createSecureRandom, generateLedgerKeyPair, rdpAccountant, sgd } from '../privacy/index.ts';
import { median, writeResults, type Measurement } from './harness.ts';

const ARCH: MlpArchitecture = { layerSizes: [11, 32, 16, 1], activation: 'tanh' };
const N = 2000;
const RUNS = 9;

const rng = seededRng(1);
const X = Float32Array.from({ length: N * 11 }, () => gaussian(rng));
const y = Float32Array.from({ length: N }, (_, i) => 5 + X[i * 11] - 0.5 * X[i * 11 + 3] + 0.2 * gaussian(rng));
const globalNet = new Mlp(ARCH);
initializeParams(globalNet.layout, globalNet.params, seededRng(2));
const globalModel = { arch: ARCH, params: Float32Array.from(globalNet.params), version: 'bench-v1' };
const budget = createBudget({ epsilonMax: 1e6, delta: 1e-5, accountant: rdpAccountant });
const baseRound: RoundTrainingParameters = { round: 1, noiseMultiplier: 1.0, maxGradNorm: 1, batchSize: 64, epochs: 1, delta: 1e-5, accountant: 'rdp', mu: 0.01, lr: 0.05 };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-bench-round-'));
const { privateKeyPem: privateKey } = generateLedgerKeyPair();
let ledgers = 0;
const openLedger = () => LedgerWriter.open(path.join(dir, `ledger-${ledgers++}.jsonl`), { privateKey, userId: 'bench-user', deviceId: 'bench-gw', accountant: rdpAccountant, delta: 1e-5 });

interface Timing {
  wall: number[];
  /** User + system CPU time of this process: steadier than wall time on a shared machine. */
  cpu: number[];
}

async function timeMs(fn: () => Promise<unknown> | unknown, runs = RUNS, before?: () => void): Promise<Timing> {
  before?.();
  await fn(); // warm-up
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    before?.();
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await fn();
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e3);
  }
  return { wall, cpu };
}

const measurements: Measurement[] = [];
const record = (name: string, t: Timing, extra?: Record<string, unknown>): void => {
  const cpuMs = median(t.cpu);
  measurements.push({ name, median: median(t.wall), unit: 'ms (wall)', runs: t.wall, extra: { ...extra, cpuMsMedian: cpuMs, cpuMsRuns: t.cpu } });
  console.log(`${name}: ${median(t.wall).toFixed(2)} ms wall, ${cpuMs.toFixed(2)} ms CPU`);
};

const plan = planRound({ numExamples: N, round: baseRound, budget, history: [] });
if (plan.action !== 'run') throw new Error(plan.reason);
const shape = { steps: plan.steps, sampleRate: plan.sampleRate, expectedBatchSize: plan.expectedBatchSize };
console.log(`N=${N}, ${ARCH.layerSizes.join('-')} (${globalNet.paramCount} params), q=${plan.sampleRate}, ${plan.steps} steps, expected batch ${plan.expectedBatchSize}`);

// The whole round, given sigma, one ledger reused (its history stays one merged run).
{
  const writer = await openLedger();
  const runs = await timeMs(() => fineTuneRound({ features: X, labels: y, globalModel, round: baseRound, budget, ledger: writer }));
  await writer.close();
  record('fineTuneRound, given sigma (plan + fsync + DP-SGD + int8 + update + local MAE diagnostics)', runs, shape);
}
{
  const writer = await openLedger();
  const runs = await timeMs(() => fineTuneRound({ features: X, labels: y, globalModel, round: baseRound, budget, ledger: writer }, { diagnostics: false }));
  await writer.close();
  record('fineTuneRound, given sigma, without the local MAE diagnostics', runs, shape);
}
{
  const writer = await openLedger();
  const runs = await timeMs(() => fineTuneRound({ features: X, labels: y, globalModel, round: baseRound, budget, ledger: writer }, { exportOnnx: true }));
  await writer.close();
  record('fineTuneRound, given sigma, with int8 ONNX export', runs, shape);
}
// Calibrated sigma after a history of 20 earlier rounds with different sigmas (a year of weekly
// rounds is ~50): the bisection composes the whole history at every probe.
{
  const history = Array.from({ length: 20 }, (_, i) => ({ noiseMultiplier: 1 + i * 0.01, sampleRate: plan.sampleRate, steps: plan.steps }));
  const round = { ...baseRound, noiseMultiplier: undefined, epsilonPerRound: 0.5 };
  // The RDP curves are cached per (q, sigma); clear them so every run pays what a gateway pays once.
  const runs = await timeMs(() => planRound({ numExamples: N, round, budget, history }), 5, clearRdpCache);
  record('planRound, sigma calibrated after 20 earlier rounds (rdp, cold cache)', runs);
}
{
  const writer = await openLedger();
  const runs = await timeMs(() => writer.recordSpend({ noiseMultiplier: 1, sampleRate: plan.sampleRate, steps: plan.steps, maxGradNorm: 1, round: 1, modelVersion: 'bench-v1' }));
  await writer.close();
  record('ledger recordSpend (sign + append + fsync, tmpdir)', runs);
}
// The DP-SGD loop alone.
{
  const random = createSecureRandom();
  const noise = createGaussianNoise(random);
  const runs = await timeMs(async () => {
    const model = new Mlp(ARCH, { params: globalModel.params });
    const source = new MlpGradientSource(model, X, y, { scope: 'all', quantAware: true });
    await runDpSgd({
      params: model.params,
      source,
      config: { noiseMultiplier: 1, maxGradNorm: 1, sampleRate: plan.sampleRate, expectedBatchSize: plan.expectedBatchSize, lossReduction: 'mean' },
      steps: plan.steps,
      update: sgd({ lr: 0.05 }),
      noise,
      random,
    });
  });
  record('DP-SGD loop alone (1 epoch, QAT forward, CSPRNG)', runs, { ...shape, examplesPerCpuSecond: Math.round((plan.steps * plan.expectedBatchSize) / (median(runs.cpu) / 1000)) });
}
{
  const runs = await timeMs(() => exportInt8Onnx(quantizeMlp(globalNet)));
  record('re-quantize + int8 ONNX export', runs);
}

fs.rmSync(dir, { recursive: true, force: true });
const file = writeResults('local-round', measurements, `load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (2 shared cores); ledger in tmpdir ${os.tmpdir()} (an SD card fsyncs slower)`);
console.log(`wrote ${file}`);
