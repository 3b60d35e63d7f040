/**
 * One local, private fine-tuning round on a gateway: plan against the budget, record the spend in
 * the ledger (fsynced), then train (DP-SGD over body + personal head, quantization-aware, FedProx on
 * the body), re-quantize, and return the body update. See gateway/README.md, "Training".
 *
 * Ledger timing: the entry for the whole run is made durable *before the first step*. Nothing the
 * run computes exists until then, so nothing can leave before the fsync; a crash or an error during
 * training leaves a spend that was never released (over-counting, never under-counting), and every
 * attempt that touched the data is charged, including retries after failures.
 */
import {
  MlpGradientSource,
  dequantizeMlp,
  exportInt8Onnx,
  meanAbsoluteError,
  normalizeRows,
  quantizeMlp,
  validateNormalization,
  type FeatureNormalization,
  type Mlp,
  type QuantizedMlp,
} from '../../models/index.ts';
import {
  createGaussianNoise,
  createSecureRandom,
  type GaussianNoise,
  type LedgerEntry,
  type MechanismStep,
  type PrivacyBudget,
  type RandomSource,
  type SpendRecord,
} from '../../privacy/index.ts';
import { runDpSgd, updateRuleFor } from './dp-train.ts';
import { assemblePersonalModel, bodyProximalTerm, bodyTensors, bodyUpdate, headOf, type GlobalModel } from './personal-model.ts';
import { planRound, type RunPlan, type SkipCode } from './plan.ts';
import { checkRoundParameters, type RoundTrainingParameters } from './round-params.ts';

/** What the round needs of the ledger; privacy's LedgerWriter is one. */
export interface SpendLedger {
  readonly history: readonly MechanismStep[];
  readonly entries: readonly LedgerEntry[];
  /** Resolves only once the entry is on stable storage (LedgerWriter: after fsync). */
  recordSpend(spend: SpendRecord): Promise<LedgerEntry>;
}

export interface FineTuneInput {
  /** Feature rows [N × nFeatures], row-major; already normalised unless `normalization` is given. */
  features: Float32Array;
  /** kcal/min labels [N × outputs]. */
  labels: Float32Array;
  /** The manifest's normalisation: features are raw and get normalised with it (as the ONNX graph does). */
  normalization?: FeatureNormalization;
  globalModel: GlobalModel;
  /** The gateway's own head; the global head is used the first time (undefined). */
  personalHead?: Float32Array;
  round: RoundTrainingParameters;
  budget: PrivacyBudget;
  ledger: SpendLedger;
}

export interface FineTuneOptions {
  /** Rounds with fewer examples are skipped (default DEFAULT_MIN_EXAMPLES). */
  minExamples?: number;
  /** Source for Poisson sampling and noise; the OS CSPRNG by default. */
  random?: RandomSource;
  /** Gaussian noise; Opacus secure_mode noise from `random` by default. */
  noise?: GaussianNoise;
  /** Accept a seeded random source or 'plain' noise: tests and benchmarks only. */
  allowInsecureRandomness?: boolean;
  /** Also export the personal int8 model as ONNX for live inference (normalisation in the graph if given). */
  exportOnnx?: boolean;
  /**
   * Called with (0, steps) once the ledger entry is durable and after every step. Carries nothing
   * derived from the data, only the step count.
   */
  onProgress?: (done: number, total: number) => void;
  /** Compute the MAE figures of localOnly (three forward passes over the data; default true). */
  diagnostics?: boolean;
  /**
   * Keep an exponential moving average of the DP-SGD iterates and use it as the round's result
   * (post-processing: no privacy cost; dp-train.ts). Default 0: the last iterate, as Opacus does.
   */
  emaDecay?: number;
}

/** The run's parameters; steps, q and sigma are in the published ledger entry too. */
export interface RoundStats {
  steps: number;
  q: number;
  sigma: number;
  /** floor(N q), Opacus's divisor: it reveals N to within 1/q, so do not publish it. */
  expectedBatchSize: number;
}

/** Raw-data-derived figures for the gateway's own logs and UI. Never publish them. */
export interface LocalOnlyDiagnostics {
  numExamples: number;
  /** Sum of the actual Poisson batch sizes over the run. */
  examplesVisited: number;
  /** MAE (kcal/min) on the round's examples; absent with `diagnostics: false`. */
  mae?: {
    /** int8 model before the round (global body + the head the round started from). */
    before: number;
    /** int8 personal model after the round. */
    after: number;
    /** float32 personal model after the round (after minus this: what int8 costs). */
    afterFloat: number;
  };
}

export interface TrainedRound {
  status: 'trained';
  /** new body − global body, float32, body order: the only part meant for the aggregator. */
  update: Float32Array;
  /** Shapes of the body tensors in update order (federation's TensorShape[]). */
  bodyShapes: number[][];
  bodyTensorNames: string[];
  /** The new personal head: kept by the gateway, never published. */
  personalHead: Float32Array;
  /** int8 per-channel personal model (new body + personal head) for live inference. */
  quantizedModel: QuantizedMlp;
  onnxBytes?: Uint8Array;
  /** The durable ledger entry for this run (publish it on privacy/<userId>/ledger). */
  ledgerEntry: LedgerEntry;
  /** Cumulative epsilon after the run, as the ledger records it. */
  epsilonAfter: number;
  stats: RoundStats;
  localOnly: LocalOnlyDiagnostics;
}

export interface SkippedRound {
  status: 'skipped';
  code: SkipCode;
  reason: string;
  epsilonBefore: number;
  /** The cumulative epsilon the run would have reached, when known. */
  epsilonWouldReach?: number;
  epsilonMax: number;
}

export type RoundResult = TrainedRound | SkippedRound;

interface Prepared {
  model: Mlp;
  source: MlpGradientSource;
  X: Float32Array;
  y: Float32Array;
  /** Snapshot of the global parameters: the proximal anchor and the base of the update. */
  globalParams: Float32Array;
  numExamples: number;
}

/**
 * Everything that can fail on bad input, checked before the ledger is touched. The round yields to
 * the event loop, so the inputs are copied: a caller replacing them mid-round (a new global model
 * arriving) cannot change what the recorded spend trains on or what the update is relative to.
 */
function prepare(input: FineTuneInput): Prepared {
  const model = assemblePersonalModel(input.globalModel, input.personalHead);
  const nIn = model.inputSize;
  if (input.features.length % nIn !== 0) throw new RangeError(`features have ${input.features.length} values, not a multiple of the model's ${nIn} inputs`);
  const numExamples = input.features.length / nIn;
  let X: Float32Array;
  if (input.normalization) {
    validateNormalization(input.normalization, nIn);
    X = normalizeRows(input.features, numExamples, input.normalization, new Float32Array(input.features.length)) as Float32Array;
  } else {
    X = input.features.slice();
  }
  const y = input.labels.slice();
  const source = new MlpGradientSource(model, X, y, { scope: 'all', quantAware: true });
  return { model, source, X, y, globalParams: input.globalModel.params.slice(), numExamples };
}

function checkLedgerConfig(ledger: SpendLedger, budget: PrivacyBudget): void {
  const last = ledger.entries.at(-1);
  if (last && (last.spend.delta !== budget.delta || last.spend.accountant !== budget.accountant.name)) {
    throw new Error(`ledger accounts with ${last.spend.accountant} at delta ${last.spend.delta}, the budget with ${budget.accountant.name} at delta ${budget.delta}: refusing to spend`);
  }
}

/** The entry the writer made must be the spend the plan approved, within the budget. */
function checkEntry(entry: LedgerEntry, plan: RunPlan, budget: PrivacyBudget): void {
  const s = entry.spend;
  if (s.noiseMultiplier !== plan.noiseMultiplier || s.sampleRate !== plan.sampleRate || s.steps !== plan.steps || s.maxGradNorm !== plan.maxGradNorm) {
    throw new Error(`ledger entry ${entry.index} does not record the planned spend; result withheld`);
  }
  if (s.delta !== budget.delta || s.accountant !== budget.accountant.name) {
    throw new Error(`ledger entry ${entry.index} was computed with ${s.accountant} at delta ${s.delta}, the budget uses ${budget.accountant.name} at delta ${budget.delta}; result withheld`);
  }
  // Another spend recorded between planning and this entry (two rounds on one ledger) can push the
  // total over the cap; the entry then over-counts a run that never trains.
  if (entry.epsilonAfter > budget.epsilonMax) {
    throw new Error(`ledger entry ${entry.index} reaches epsilon ${entry.epsilonAfter}, over the budget of ${budget.epsilonMax} (another spend was recorded concurrently); the run does not train`);
  }
}

function maeOf(model: Mlp, X: Float32Array, y: Float32Array, n: number, weights: Float32Array): number {
  return meanAbsoluteError(model.predict(X, n, undefined, weights), y, n * model.outputSize);
}

export async function fineTuneRound(input: FineTuneInput, options: FineTuneOptions = {}): Promise<RoundResult> {
  const { round, budget, ledger, globalModel } = input;
  checkRoundParameters(round);
  const { model, source, X, y, globalParams, numExamples } = prepare(input);
  const layout = model.layout;
  const random = options.random ?? createSecureRandom();
  const noise = options.noise ?? createGaussianNoise(random);
  if (!options.allowInsecureRandomness && (!random.cryptographicallySecure || !noise.cryptographicallySecure)) {
    throw new RangeError('random/noise: not cryptographically secure (set allowInsecureRandomness for tests and benchmarks only)');
  }
  const update = updateRuleFor(round);

  const plan = planRound({ numExamples, round, budget, history: ledger.history, minExamples: options.minExamples });
  if (plan.action === 'skip') {
    const { action: _, ...rest } = plan;
    return { status: 'skipped', ...rest };
  }
  checkLedgerConfig(ledger, budget);
  const diagnostics = options.diagnostics ?? true;
  const maeBefore = diagnostics ? maeOf(model, X, y, numExamples, dequantizeMlp(quantizeMlp(model))) : NaN;

  // The spend is durable before the first step: from here on every outcome is covered.
  const ledgerEntry = await ledger.recordSpend({
    noiseMultiplier: plan.noiseMultiplier,
    sampleRate: plan.sampleRate,
    steps: plan.steps,
    maxGradNorm: plan.maxGradNorm,
    round: round.round,
    modelVersion: globalModel.version,
  });
  checkEntry(ledgerEntry, plan, budget);
  options.onProgress?.(0, plan.steps);

  const { examplesVisited } = await runDpSgd({
    params: model.params,
    source,
    config: {
      noiseMultiplier: plan.noiseMultiplier,
      maxGradNorm: plan.maxGradNorm,
      clipping: 'flat',
      sampleRate: plan.sampleRate,
      expectedBatchSize: plan.expectedBatchSize,
      lossReduction: 'mean',
    },
    steps: plan.steps,
    update,
    noise,
    random,
    dataIndependentTerms: round.mu > 0 ? bodyProximalTerm(layout, round.mu, globalParams) : undefined,
    allowInsecureRandomness: options.allowInsecureRandomness,
    onProgress: options.onProgress,
    emaDecay: options.emaDecay,
  });

  const quantizedModel = quantizeMlp(model);
  const { shapes, names } = bodyTensors(layout);
  const result: TrainedRound = {
    status: 'trained',
    update: bodyUpdate(layout, model.params, globalParams),
    bodyShapes: shapes,
    bodyTensorNames: names,
    personalHead: headOf(layout, model.params),
    quantizedModel,
    ledgerEntry,
    epsilonAfter: ledgerEntry.epsilonAfter,
    stats: { steps: plan.steps, q: plan.sampleRate, sigma: plan.noiseMultiplier, expectedBatchSize: plan.expectedBatchSize },
    localOnly: { numExamples, examplesVisited },
  };
  if (diagnostics) {
    result.localOnly.mae = {
      before: maeBefore,
      after: maeOf(model, X, y, numExamples, dequantizeMlp(quantizedModel)),
      afterFloat: maeOf(model, X, y, numExamples, model.params as Float32Array),
    };
  }
  if (options.exportOnnx) result.onnxBytes = exportInt8Onnx(quantizedModel, { normalization: input.normalization });
  return result;
}
