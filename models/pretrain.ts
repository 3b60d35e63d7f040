/**
 * The base model: simulate a public population (pretrain-data.ts), cut windows and features exactly
 * as gateways do, fit the feature normalisation, train the float MLP with Adam, fine-tune it
 * quantization-aware, quantize to int8, package, and evaluate against the published baselines on
 * held-out days of the training users and on held-out users. Every step is seeded: the same
 * configuration gives the same bytes (the manifest's `created` is pinned in the configuration).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CLUSTER_NAMES, ACTIVITY_KINDS } from '../device-sim/index.ts';
import { keytelPredictor, keytelVo2maxPredictor, stepsPredictor } from './baselines.ts';
import { type EvalSet, type EvaluationReport, type ErrorMetrics, type Predictor, evaluatePredictors, formatEvaluationTable, OVERALL } from './evaluate.ts';
import { FEATURE_COUNT, FEATURE_INDEX, FEATURE_NAMES } from './features.ts';
import type { Activation } from './layout.ts';
import { MSE, huber } from './losses.ts';
import type { ModelManifest } from './manifest.ts';
import { Mlp, initializeParams } from './mlp.ts';
import { MODEL_FILES, loadModelDir, paramsFileJson } from './model-dir.ts';
import { packageModel } from './model-package.ts';
import { type FeatureNormalization, fitNormalization, normalizeRows } from './normalization.ts';
import { OnnxModelSession } from './onnx-runtime.ts';
import { type Population, type PopulationOptions, type PopulationPart, type WindowRows, checkPopulationOptions, rowClusters, selectRows, simulatePopulation } from './pretrain-data.ts';
import { dequantizeMlp, quantizeMlp } from './quantize.ts';
import { seededRng } from './random.ts';
import { type EpochRecord, trainRegressor } from './train.ts';

export interface PretrainConfig {
  population: PopulationOptions;
  /** Hidden widths: the body. The head is the final linear layer to 1 output. */
  hidden: number[];
  activation: Activation;
  epochs: number;
  qatEpochs: number;
  batchSize: number;
  lr: number;
  lrFinalFraction: number;
  /** Decoupled (AdamW) weight decay of the float phase. */
  weightDecay: number;
  /**
   * SD of the Gaussian input noise (in standardised units) added while training: on the window's
   * signal features and on the demographic ones (age, weight, height, sex), see train.ts.
   */
  inputNoise: { signals: number; demographics: number };
  /** 'mse' or a Huber delta on the standardised target scale. */
  loss: 'mse' | { huber: number };
  /** The manifest's `created`, pinned so that the bytes depend only on the configuration. */
  created: string;
}

/** Monday 2026-01-05, 00:00 UTC: any fixed midnight works; this one is pinned for reproducibility. */
export const PRETRAIN_START_MS = Date.UTC(2026, 0, 5);
export const PRETRAIN_CREATED = '2026-01-01T00:00:00.000Z';

/** `fedwear model pretrain` defaults (models/base is made with these and --seed 1). */
export function defaultPretrainConfig(seed: number): PretrainConfig {
  return {
    // Many users for one day each rather than few for many days: unseen people generalise from
    // the spread of physiology, and a user's sessions from one day are already much alike.
    population: { seed, trainUsers: 200, trainDays: 1, evalDays: 1, evalDayUsers: 50, heldOutUsers: 50, heldOutDays: 1, startMs: PRETRAIN_START_MS },
    hidden: [32, 16],
    activation: 'tanh',
    epochs: 60,
    qatEpochs: 5,
    batchSize: 64,
    lr: 3e-3,
    lrFinalFraction: 0.05,
    weightDecay: 0,
    inputNoise: { signals: 0.1, demographics: 0.3 },
    loss: 'mse',
    created: PRETRAIN_CREATED,
  };
}

/** A configuration small enough for tests (seconds), with every stage still exercised. */
export function tinyPretrainConfig(seed: number): PretrainConfig {
  return {
    ...defaultPretrainConfig(seed),
    population: { seed, trainUsers: 5, trainDays: 1, evalDays: 1, evalDayUsers: 1, heldOutUsers: 1, heldOutDays: 1, startMs: PRETRAIN_START_MS },
    hidden: [8, 4],
    epochs: 3,
    qatEpochs: 1,
  };
}

export function checkPretrainConfig(c: PretrainConfig): void {
  checkPopulationOptions(c.population);
  const int = (name: string, v: unknown, min: number, max: number): void => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new RangeError(`pretrain option ${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  };
  if (!Array.isArray(c.hidden) || c.hidden.length < 1) throw new RangeError('pretrain option hidden must list at least one hidden width (the body)');
  c.hidden.forEach((h, i) => int(`hidden[${i}]`, h, 1, 1024));
  if (c.activation !== 'tanh' && c.activation !== 'relu') throw new RangeError(`pretrain option activation must be tanh or relu, got ${String(c.activation)}`);
  int('epochs', c.epochs, 1, 10_000);
  int('qatEpochs', c.qatEpochs, 0, 10_000);
  int('batchSize', c.batchSize, 1, 1 << 20);
  if (!(c.lr > 0 && c.lr < 1)) throw new RangeError(`pretrain option lr must be in (0, 1), got ${c.lr}`);
  if (!(c.lrFinalFraction > 0 && c.lrFinalFraction <= 1)) throw new RangeError(`pretrain option lrFinalFraction must be in (0, 1], got ${c.lrFinalFraction}`);
  if (!(c.weightDecay >= 0 && c.weightDecay < 1)) throw new RangeError(`pretrain option weightDecay must be in [0, 1), got ${c.weightDecay}`);
  for (const k of ['signals', 'demographics'] as const) {
    const v = c.inputNoise?.[k];
    if (typeof v !== 'number' || !(v >= 0 && v <= 10)) throw new RangeError(`pretrain option inputNoise.${k} must be a number in [0, 10], got ${String(v)}`);
  }
  if (c.loss !== 'mse' && !(typeof c.loss === 'object' && c.loss.huber > 0)) throw new RangeError(`pretrain option loss must be "mse" or { huber: delta > 0 }`);
  if (Number.isNaN(Date.parse(c.created))) throw new RangeError(`pretrain option created must be an ISO date-time, got ${c.created}`);
}

/** Features from this index on describe the person (age, weight, height, sex), not the window. */
const DEMOGRAPHIC_FROM = FEATURE_INDEX.ageY;

/** The configuration with its keys in one fixed order, so that pretrain.json's bytes depend only on the values. */
export function canonicalPretrainConfig(c: PretrainConfig): PretrainConfig {
  const p = c.population;
  const population: PopulationOptions = {
    seed: p.seed,
    trainUsers: p.trainUsers,
    trainDays: p.trainDays,
    evalDays: p.evalDays,
    evalDayUsers: p.evalDayUsers ?? p.trainUsers,
    heldOutUsers: p.heldOutUsers,
    heldOutDays: p.heldOutDays,
    startMs: p.startMs,
  };
  if (p.windowing) population.windowing = { ...p.windowing };
  return {
    population,
    hidden: [...c.hidden],
    activation: c.activation,
    epochs: c.epochs,
    qatEpochs: c.qatEpochs,
    batchSize: c.batchSize,
    lr: c.lr,
    lrFinalFraction: c.lrFinalFraction,
    weightDecay: c.weightDecay,
    inputNoise: { signals: c.inputNoise.signals, demographics: c.inputNoise.demographics },
    loss: c.loss === 'mse' ? 'mse' : { huber: c.loss.huber },
    created: c.created,
  };
}

export function baseModelVersion(seed: number): string {
  return `base-${seed}`;
}

export type Log = (message: string) => void;

export interface PretrainResult {
  config: PretrainConfig;
  model: Mlp;
  normalization: FeatureNormalization;
  manifest: ModelManifest;
  floatManifest: ModelManifest;
  evaluation: BaseModelEvaluation;
  /** File name → bytes, as written into the model directory. */
  files: Record<string, Uint8Array>;
  history: EpochRecord[];
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const stableJson = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

/** Runs the whole pipeline in memory; `writeModelFiles(dir, result.files)` saves it. */
export async function pretrainBaseModel(input: PretrainConfig, log: Log = () => {}): Promise<PretrainResult> {
  checkPretrainConfig(input);
  const config = canonicalPretrainConfig(input);
  const { seed } = config.population;
  const modelVersion = baseModelVersion(seed);
  const t0 = performance.now();
  const since = (): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

  const pop = simulatePopulation(config.population, undefined, (done, total) => {
    if (done === total || done % 25 === 0) log(`simulated ${done}/${total} device runs (${since()})`);
  });
  const train = pop.train;
  if (train.n === 0) throw new Error(`pretrain: the training users' days hold no labelled window; add --users or --days`);
  log(`training windows: ${train.n} labelled; evaluation windows: ${pop.evalDays.n} (held-out days), ${pop.evalUsers.n} (held-out users)`);

  const normalization = fitNormalization(train.X, train.n, FEATURE_COUNT);
  const Xn = normalizeRows(train.X, train.n, normalization) as Float32Array;
  const model = new Mlp({ layerSizes: [FEATURE_COUNT, ...config.hidden, 1], activation: config.activation });
  // Separate named streams for initialisation and shuffling, both from the seed.
  initializeParams(model.layout, model.params, seededRng(mix(seed, 1)));
  const trained = trainRegressor(model, Xn, train.label, {
    epochs: config.epochs,
    batchSize: config.batchSize,
    lr: config.lr,
    lrFinalFraction: config.lrFinalFraction,
    weightDecay: config.weightDecay,
    inputNoise: FEATURE_NAMES.map((_, j) => (j >= DEMOGRAPHIC_FROM ? config.inputNoise.demographics : config.inputNoise.signals)),
    seed: mix(seed, 2),
    loss: config.loss === 'mse' ? MSE : huber(config.loss.huber),
    qatEpochs: config.qatEpochs,
    onEpoch: (e) => {
      if (e.epoch % 10 === 9 || e.phase === 'qat') log(`${e.phase} epoch ${e.epoch + 1}: loss ${e.loss.toFixed(4)} (${since()})`);
    },
  });

  const int8 = packageModel(model, { modelVersion, featureNames: FEATURE_NAMES, normalization, quantized: true, created: new Date(config.created) });
  const float = packageModel(model, { modelVersion, featureNames: FEATURE_NAMES, normalization, quantized: false, created: new Date(config.created) });
  log(`packaged ${modelVersion}: int8 ${int8.onnx.length} B (sha256 ${int8.manifest.onnx.sha256.slice(0, 12)}…), float ${float.onnx.length} B`);

  const evaluation = await evaluateBaseModel({ modelVersion, model, normalization, int8Onnx: int8.onnx }, pop);
  log(`evaluated (${since()})`);

  const pretrainInfo = {
    modelVersion,
    config,
    features: FEATURE_NAMES,
    data: describeData(pop),
    training: {
      targetMean: round(trained.targetMean, 6),
      targetStd: round(trained.targetStd, 6),
      finalFloatLoss: round(lastLoss(trained.history, 'float'), 6),
      finalQatLoss: config.qatEpochs > 0 ? round(lastLoss(trained.history, 'qat'), 6) : null,
    },
    reproduce: pretrainCommand(config),
  };
  const files: Record<string, Uint8Array> = {
    [MODEL_FILES.int8Onnx]: int8.onnx,
    [MODEL_FILES.manifest]: utf8(stableJson(int8.manifest)),
    [MODEL_FILES.floatOnnx]: float.onnx,
    [MODEL_FILES.floatManifest]: utf8(stableJson(float.manifest)),
    [MODEL_FILES.params]: utf8(paramsFileJson(modelVersion, model, FEATURE_NAMES, normalization)),
    [MODEL_FILES.pretrain]: utf8(stableJson(pretrainInfo)),
    [MODEL_FILES.evaluationJson]: utf8(stableJson(evaluation)),
    [MODEL_FILES.evaluationMd]: utf8(formatBaseModelEvaluation(evaluation, config)),
  };
  return { config, model, normalization, manifest: int8.manifest, floatManifest: float.manifest, evaluation, files, history: trained.history };
}

function mix(seed: number, stream: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + stream * 0x27d4eb2d) >>> 0;
}

function lastLoss(h: readonly EpochRecord[], phase: EpochRecord['phase']): number {
  const r = h.filter((e) => e.phase === phase);
  return r.length ? r[r.length - 1].loss : NaN;
}

/** The CLI invocation that reproduces a configuration (defaults omitted). */
export function pretrainCommand(c: PretrainConfig): string {
  const d = defaultPretrainConfig(c.population.seed);
  const parts = [`fedwear model pretrain --seed ${c.population.seed}`];
  const p = c.population;
  const dp = d.population;
  if (p.trainUsers !== dp.trainUsers) parts.push(`--users ${p.trainUsers}`);
  if (p.trainDays !== dp.trainDays) parts.push(`--days ${p.trainDays}`);
  if (p.evalDays !== dp.evalDays) parts.push(`--eval-days ${p.evalDays}`);
  if ((p.evalDayUsers ?? p.trainUsers) !== (dp.evalDayUsers ?? dp.trainUsers)) parts.push(`--eval-day-users ${p.evalDayUsers ?? p.trainUsers}`);
  if (p.heldOutUsers !== dp.heldOutUsers) parts.push(`--held-out-users ${p.heldOutUsers}`);
  if (p.heldOutDays !== dp.heldOutDays) parts.push(`--held-out-days ${p.heldOutDays}`);
  if (p.startMs !== dp.startMs) parts.push(`--start ${new Date(p.startMs).toISOString()}`);
  if (c.hidden.join(',') !== d.hidden.join(',')) parts.push(`--hidden ${c.hidden.join(',')}`);
  if (c.activation !== d.activation) parts.push(`--activation ${c.activation}`);
  if (c.epochs !== d.epochs) parts.push(`--epochs ${c.epochs}`);
  if (c.qatEpochs !== d.qatEpochs) parts.push(`--qat-epochs ${c.qatEpochs}`);
  if (c.batchSize !== d.batchSize) parts.push(`--batch-size ${c.batchSize}`);
  if (c.lr !== d.lr) parts.push(`--lr ${c.lr}`);
  if (c.weightDecay !== d.weightDecay) parts.push(`--weight-decay ${c.weightDecay}`);
  if (c.inputNoise.signals !== d.inputNoise.signals || c.inputNoise.demographics !== d.inputNoise.demographics) {
    parts.push(`--input-noise ${c.inputNoise.signals},${c.inputNoise.demographics}`);
  }
  if (c.created !== d.created) parts.push(`--created ${c.created}`);
  return `${parts.join(' ')} --out DIR`;
}

function describeData(pop: Population): Record<string, unknown> {
  const perCluster = (rows: WindowRows, labelledOnly: boolean): Record<string, number> => {
    const out: Record<string, number> = Object.fromEntries(CLUSTER_NAMES.map((c) => [c, 0]));
    for (let i = 0; i < rows.n; i++) if (!labelledOnly || !Number.isNaN(rows.label[i])) out[pop.users[rows.user[i]].cluster]++;
    return out;
  };
  const perActivity = (rows: WindowRows): Record<string, number> => {
    const out: Record<string, number> = {};
    for (let i = 0; i < rows.n; i++) {
      const a = ACTIVITY_KINDS[rows.activity[i]];
      out[a] = (out[a] ?? 0) + 1;
    }
    return out;
  };
  // How far the history-based resting HR sits from the simulator's (awake, seated) resting HR.
  const diffs = pop.runs.map((r) => r.profile.restingHrBpm - pop.users[r.userIndex].restingHrBpm);
  const meanDiff = diffs.reduce((s, d) => s + d, 0) / Math.max(1, diffs.length);
  return {
    users: { train: pop.options.trainUsers, heldOut: pop.options.heldOutUsers },
    trainingWindows: { total: pop.train.n, perCluster: perCluster(pop.train, true), perActivity: perActivity(pop.train) },
    heldOutDays: { windows: pop.evalDays.n, labelled: countLabelled(pop.evalDays) },
    heldOutUsers: { windows: pop.evalUsers.n, labelled: countLabelled(pop.evalUsers) },
    restingHrEstimateMinusTrueBpm: { mean: round(meanDiff, 2), runs: diffs.length },
  };
}

function countLabelled(rows: WindowRows): number {
  let n = 0;
  for (let i = 0; i < rows.n; i++) if (!Number.isNaN(rows.label[i])) n++;
  return n;
}

function round(x: number, digits: number): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

export const PREDICTOR_NAMES = ['Keytel', 'Keytel+VO2max', 'steps', 'base float', 'base int8'] as const;

export interface BaseModelEvaluation {
  formatVersion: 1;
  modelVersion: string;
  /** Every table is scored against the simulator's true mean EE of the window. */
  reference: 'true mean EE of the window (simulator truth), kcal/min';
  tables: EvaluationTable[];
  quantization: {
    /** Largest |int8 − float| prediction over all evaluation windows, kcal/min. */
    maxAbsInt8MinusFloat: number;
    /** Largest |onnxruntime int8 − TS int8 forward| over all evaluation windows, kcal/min. */
    maxAbsOrtMinusTsInt8: number;
  };
}

export interface EvaluationTable {
  id: string;
  title: string;
  groupBy: 'cluster' | 'activity';
  report: EvaluationReport;
}

export interface EvaluatedModel {
  modelVersion: string;
  /** Float model taking normalised features. */
  model: Mlp;
  normalization: FeatureNormalization;
  /** int8 ONNX with normalisation in the graph. */
  int8Onnx: Uint8Array;
}

interface SetSpec {
  id: string;
  title: string;
  rows: WindowRows;
  groupBy: EvaluationTable['groupBy'];
}

/**
 * Scores Keytel (with and without VO2max), the steps estimate, the float model (TS forward) and the
 * int8 model (onnxruntime on the shipped bytes) on the population's held-out windows, per cluster
 * (and per activity for free-living days).
 */
export async function evaluateBaseModel(m: EvaluatedModel, pop: Population): Promise<BaseModelEvaluation> {
  const labelled = (r: WindowRows): WindowRows => selectRows(r, (i) => !Number.isNaN(r.label[i]));
  const specs: SetSpec[] = [
    { id: 'heldOutDays-labelled', title: 'Held-out days of the training users: labelled (session) windows', rows: labelled(pop.evalDays), groupBy: 'cluster' },
    { id: 'heldOutUsers-labelled', title: 'Held-out users: labelled (session) windows', rows: labelled(pop.evalUsers), groupBy: 'cluster' },
    { id: 'heldOutDays-all', title: 'Held-out days of the training users: every window (free living, incl. sleep)', rows: pop.evalDays, groupBy: 'cluster' },
    { id: 'heldOutUsers-all', title: 'Held-out users: every window (free living, incl. sleep)', rows: pop.evalUsers, groupBy: 'cluster' },
    { id: 'heldOutDays-all-by-activity', title: 'Held-out days of the training users: every window, by true activity', rows: pop.evalDays, groupBy: 'activity' },
    { id: 'heldOutUsers-all-by-activity', title: 'Held-out users: every window, by true activity', rows: pop.evalUsers, groupBy: 'activity' },
  ];

  const session = await OnnxModelSession.create(m.int8Onnx);
  const deq = dequantizeMlp(quantizeMlp(m.model));
  let maxInt8Float = 0;
  let maxOrtTs = 0;
  const tables: EvaluationTable[] = [];
  try {
    for (const s of specs) {
      const rows = s.rows;
      const vo2max = Float64Array.from(rows.user, (u) => pop.users[u].vo2maxMlKgMin);
      const floatPred = (X: Float32Array, n: number): Float32Array => m.model.predict(normalizeRows(X, n, m.normalization), n) as Float32Array;
      const ortPred: Predictor = async (X, n) => {
        const ort = await session.run(X, n);
        const tsInt8 = m.model.predict(normalizeRows(X, n, m.normalization), n, undefined, deq);
        const fl = floatPred(X, n);
        for (let i = 0; i < n; i++) {
          maxOrtTs = Math.max(maxOrtTs, Math.abs(ort[i] - tsInt8[i]));
          maxInt8Float = Math.max(maxInt8Float, Math.abs(ort[i] - fl[i]));
        }
        return ort;
      };
      const set: EvalSet = {
        name: s.id,
        X: rows.X,
        y: rows.truth,
        groups: s.groupBy === 'cluster' ? rowClusters(rows, pop.users) : Array.from(rows.activity, (a) => ACTIVITY_KINDS[a]),
        n: rows.n,
      };
      const report = await evaluatePredictors(
        set,
        [
          ['Keytel', keytelPredictor()],
          ['Keytel+VO2max', keytelVo2maxPredictor(vo2max)],
          ['steps', stepsPredictor()],
          ['base float', floatPred],
          ['base int8', ortPred],
        ],
        { groupOrder: s.groupBy === 'cluster' ? CLUSTER_NAMES : ACTIVITY_KINDS },
      );
      tables.push({ id: s.id, title: s.title, groupBy: s.groupBy, report: roundReport(report) });
    }
  } finally {
    await session.release();
  }
  return {
    formatVersion: 1,
    modelVersion: m.modelVersion,
    reference: 'true mean EE of the window (simulator truth), kcal/min',
    tables,
    quantization: { maxAbsInt8MinusFloat: round(maxInt8Float, 6), maxAbsOrtMinusTsInt8: maxOrtTs },
  };
}

/** Rounds metrics so that the JSON is stable and readable; drops groups without rows. */
function roundReport(r: EvaluationReport): EvaluationReport {
  const metrics: Record<string, Record<string, ErrorMetrics>> = {};
  const first = r.metrics[r.predictors[0]];
  const groups = r.groups.filter((g) => g === OVERALL || (first[g]?.n ?? 0) > 0);
  for (const p of r.predictors) {
    metrics[p] = {};
    for (const g of groups) {
      const e = r.metrics[p][g];
      metrics[p][g] = { n: e.n, mae: round(e.mae, 4), mape: round(e.mape, 2), nMape: e.nMape, bias: round(e.bias, 4) };
    }
  }
  return { set: r.set, groups, predictors: r.predictors, metrics };
}

/** evaluation.md: one markdown table per evaluation set, with the setting it came from. */
export function formatBaseModelEvaluation(e: BaseModelEvaluation, config?: PretrainConfig): string {
  const lines = [`# Evaluation of ${e.modelVersion}`, ''];
  if (config) {
    const p = config.population;
    lines.push(
      `Simulated population (seed ${p.seed}): ${p.trainUsers} training users × ${p.trainDays} day(s) (only their labelled session windows train the model), ` +
        `${p.evalDays} held-out day(s) of ${p.evalDayUsers ?? p.trainUsers} of the training users, and ${p.heldOutUsers} held-out users × ${p.heldOutDays} day(s). ` +
        `Architecture ${FEATURE_COUNT}-${config.hidden.join('-')}-1 ${config.activation}.`,
      '',
    );
  }
  lines.push(
    `Cells: MAE in kcal/min (MAPE). Reference: ${e.reference}. Keytel+VO2max is given the simulator's true VO2max (a best case for it). ` +
      `"base int8" is the shipped model.onnx run by onnxruntime-node.`,
    '',
  );
  for (const t of e.tables) lines.push(`## ${t.title}`, '', formatEvaluationTable(t.report), '');
  lines.push(
    `Largest |int8 − float| prediction over these windows: ${e.quantization.maxAbsInt8MinusFloat} kcal/min; ` +
      `largest |onnxruntime − TS int8 forward|: ${e.quantization.maxAbsOrtMinusTsInt8.toExponential(2)} kcal/min.`,
    '',
  );
  return lines.join('\n');
}

/** Re-runs the evaluation of a model directory (re-simulating its held-out data from pretrain.json). */
export async function evaluateModelDir(dir: string, log: Log = () => {}): Promise<{ evaluation: BaseModelEvaluation; markdown: string }> {
  const loaded = await loadModelDir(dir);
  const info = JSON.parse(await readFile(path.join(dir, MODEL_FILES.pretrain), 'utf8')) as { config?: PretrainConfig };
  if (!info.config) throw new Error(`${dir}/${MODEL_FILES.pretrain} has no config`);
  checkPretrainConfig(info.config);
  const parts: PopulationPart[] = ['evalDays', 'evalUsers'];
  const pop = simulatePopulation(info.config.population, parts, (done, total) => {
    if (done === total || done % 25 === 0) log(`simulated ${done}/${total} held-out device runs`);
  });
  const evaluation = await evaluateBaseModel(
    { modelVersion: loaded.manifest.modelVersion, model: loaded.params.model, normalization: loaded.params.normalization, int8Onnx: loaded.onnx },
    pop,
  );
  return { evaluation, markdown: formatBaseModelEvaluation(evaluation, info.config) };
}
