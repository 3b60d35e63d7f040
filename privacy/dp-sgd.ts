/**
 * One DP-SGD step over a PerSampleGradientSource, with Opacus v1.4.0 semantics
 * (opacus/optimizers/optimizer.py `DPOptimizer.pre_step`; shared/notes/opacus.md §1.4, §1.6):
 *
 *   batch      Poisson sample with rate q (or a given batch, as with poisson_sampling=False)
 *   clip       factor_i = min(1, C / (||g_i|| + 1e-6))            (per layer: per tensor, C_l)
 *   sum        S = sum_i factor_i g_i                              (0 for an empty batch)
 *   noise      S + N(0, (sigma C)^2 I)                             (also on an empty batch; per layer C = ||C_l||_2)
 *   scale      / expectedBatchSize if lossReduction = 'mean'       (never the actual Poisson batch size)
 *   then       data-independent terms (proximal term, weight decay): after the noise
 *
 * and the accounting entry (sigma, q, 1). The returned gradient is the only thing meant to leave.
 */
import type { MechanismStep, PerSampleGradientSource } from './types.ts';
import type { GaussianNoise } from './gaussian-noise.ts';
import type { RandomSource } from './secure-random.ts';
import { flatClipFactors, perLayerClipFactors, perLayerSensitivity } from './clipping.ts';
import { poissonSample } from './poisson-sampling.ts';

export type LossReduction = 'mean' | 'sum';
export type ClippingMode = 'flat' | 'per_layer';

/** Every privacy parameter of a DP-SGD step, explicit (Opacus spreads them over make_private and DPOptimizer). */
export interface DpSgdConfig {
  /** sigma: the noise std is sigma * C. */
  noiseMultiplier: number;
  /** C for flat clipping; one C_l per tensor (PerSampleGradientSource.tensorSizes order) for per-layer. */
  maxGradNorm: number | readonly number[];
  /** 'flat' (default) or 'per_layer'; must match the type of maxGradNorm. */
  clipping?: ClippingMode;
  /** q: the Poisson sampling rate, and what the accountant is charged. */
  sampleRate: number;
  /** Opacus's expected_batch_size (q N, truncated by make_private): the divisor for 'mean'. */
  expectedBatchSize: number;
  lossReduction: LossReduction;
}

export interface DpSgdStepOptions {
  noise: GaussianNoise;
  /** Source for Poisson sampling; required unless `batch` is given. */
  random?: RandomSource;
  /** A fixed batch (ascending indices) instead of Poisson sampling: Opacus's poisson_sampling=False. */
  batch?: Int32Array;
  /** Adds data-independent terms (proximal term, weight decay) to the privatised gradient in place. */
  dataIndependentTerms?: (gradient: Float64Array) => void;
  /** Keep per-sample norms, clip factors and the pre-noise sum in the result (tests, conformance; never publish them). */
  keepDiagnostics?: boolean;
}

export interface DpSgdDiagnostics {
  perSampleNorms: Float64Array;
  /** Row-major [B][tensors] with per-layer clipping. */
  perTensorNorms?: Float64Array;
  /** [B] (flat) or [B][tensors] (per-layer). */
  clipFactors: Float64Array;
  /** sum_i factor_i g_i before the noise: raw-data dependent. */
  summedClippedGradient: Float64Array;
  noiseStd: number;
}

export interface DpSgdStepResult {
  /** The privatised gradient (after noise, scaling and data-independent terms). */
  gradient: Float64Array;
  /** The actual batch size: under Poisson sampling it depends on the data's membership; keep it local. */
  batchSize: number;
  /** The step's accounting entry: (sigma, q, 1). */
  accounting: MechanismStep;
  diagnostics?: DpSgdDiagnostics;
}

/** Validates a config against a source and returns the clipping mode and the sum's L2 sensitivity. */
export function checkDpSgdConfig(config: DpSgdConfig, tensorCount?: number): { clipping: ClippingMode; sensitivity: number } {
  const { noiseMultiplier, maxGradNorm, sampleRate, expectedBatchSize, lossReduction } = config;
  if (!(noiseMultiplier >= 0) || !Number.isFinite(noiseMultiplier)) throw new RangeError(`noiseMultiplier must be finite and >= 0 (got ${noiseMultiplier})`);
  if (!(sampleRate > 0 && sampleRate <= 1)) throw new RangeError(`sampleRate must be in (0, 1] (got ${sampleRate})`);
  if (!(expectedBatchSize > 0) || !Number.isFinite(expectedBatchSize)) throw new RangeError(`expectedBatchSize must be finite and > 0 (got ${expectedBatchSize})`);
  if (lossReduction !== 'mean' && lossReduction !== 'sum') throw new RangeError(`lossReduction must be 'mean' or 'sum' (got ${String(lossReduction)})`);
  const clipping = config.clipping ?? (typeof maxGradNorm === 'number' ? 'flat' : 'per_layer');
  if (clipping === 'flat') {
    if (typeof maxGradNorm !== 'number') throw new RangeError('maxGradNorm must be a number with flat clipping');
    if (!(maxGradNorm > 0) || !Number.isFinite(maxGradNorm)) throw new RangeError(`maxGradNorm must be finite and > 0 (got ${maxGradNorm})`);
    return { clipping, sensitivity: maxGradNorm };
  }
  if (clipping !== 'per_layer') throw new RangeError(`clipping must be 'flat' or 'per_layer' (got ${String(clipping)})`);
  if (typeof maxGradNorm === 'number') throw new RangeError('maxGradNorm must be one value per tensor with per_layer clipping');
  if (tensorCount !== undefined && maxGradNorm.length !== tensorCount) {
    throw new RangeError(`maxGradNorm has ${maxGradNorm.length} values, the source has ${tensorCount} tensors`);
  }
  maxGradNorm.forEach((c, l) => {
    if (!(c > 0) || !Number.isFinite(c)) throw new RangeError(`maxGradNorm[${l}] must be finite and > 0 (got ${c})`);
  });
  return { clipping, sensitivity: perLayerSensitivity(maxGradNorm) };
}

function checkBatch(batch: Int32Array, numExamples: number): void {
  for (let b = 0; b < batch.length; b++) {
    const i = batch[b];
    if (i < 0 || i >= numExamples) throw new RangeError(`batch[${b}] = ${i} is out of range [0, ${numExamples})`);
    if (b > 0 && i <= batch[b - 1]) throw new RangeError(`batch must be strictly ascending (batch[${b}] = ${i} after ${batch[b - 1]})`);
  }
}

export function dpSgdStep(source: PerSampleGradientSource, config: DpSgdConfig, opts: DpSgdStepOptions): DpSgdStepResult {
  const L = source.tensorSizes.length;
  const { clipping, sensitivity } = checkDpSgdConfig(config, L);
  let batch: Int32Array;
  if (opts.batch) {
    checkBatch(opts.batch, source.numExamples);
    batch = opts.batch;
  } else {
    if (!opts.random) throw new RangeError('random is required for Poisson sampling (or pass a batch)');
    batch = poissonSample(source.numExamples, config.sampleRate, opts.random);
  }
  const B = batch.length;
  const P = source.paramCount;

  const norms = new Float64Array(B);
  const perTensorNorms = clipping === 'per_layer' ? new Float64Array(B * L) : undefined;
  const sum = new Float64Array(P);
  let factors: Float64Array;
  if (B > 0) {
    source.perSampleNorms(batch, norms, perTensorNorms);
    if (clipping === 'flat') {
      factors = flatClipFactors(norms, config.maxGradNorm as number);
      source.addWeightedGradientSum(factors, sum);
    } else {
      factors = perLayerClipFactors(perTensorNorms as Float64Array, config.maxGradNorm as readonly number[]);
      source.addWeightedGradientSum(new Float64Array(B), sum, factors);
    }
  } else {
    // Opacus: an empty Poisson batch clips nothing (factor zeros(0)) and the sum stays 0.
    factors = new Float64Array(0);
  }
  const summedClippedGradient = opts.keepDiagnostics ? sum.slice() : undefined;

  const noiseStd = config.noiseMultiplier === 0 ? 0 : opts.noise.stdFor(config.noiseMultiplier, sensitivity, P);
  opts.noise.addTo(sum, noiseStd);
  const gradient = sum;
  if (config.lossReduction === 'mean') {
    // opacus DPOptimizer.scale_grad: p.grad /= expected_batch_size * accumulated_iterations (= 1 here).
    for (let p = 0; p < P; p++) gradient[p] /= config.expectedBatchSize;
  }
  opts.dataIndependentTerms?.(gradient);

  const result: DpSgdStepResult = {
    gradient,
    batchSize: B,
    accounting: { noiseMultiplier: config.noiseMultiplier, sampleRate: config.sampleRate, steps: 1 },
  };
  if (opts.keepDiagnostics) {
    result.diagnostics = {
      perSampleNorms: norms,
      clipFactors: factors,
      summedClippedGradient: summedClippedGradient as Float64Array,
      noiseStd,
    };
    if (perTensorNorms) result.diagnostics.perTensorNorms = perTensorNorms;
  }
  return result;
}
