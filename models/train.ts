/**
 * Plain (non-private) minibatch training of the MLP regressor with Adam, for the base model trained on
 * public population data. Targets are standardised while training (so one learning rate suits any
 * unit) and the scaling is then folded into the head, whose output is linear:
 *   y = σ_y·(W h + b) + μ_y = (σ_y W) h + (σ_y b + μ_y),
 * so the shipped graph outputs kcal/min directly. A final phase of quantization-aware training
 * (Jacob et al. 2018, arXiv:1712.05877; see quantize.ts) on the folded model lets the weights settle
 * where their int8 rounding costs least.
 */
import { Adam } from './adam.ts';
import { MlpGradientSource } from './gradient-source.ts';
import { type LossSpec, MSE, huber } from './losses.ts';
import type { Mlp } from './mlp.ts';
import { gaussian, seededRng } from './random.ts';

export interface TrainOptions {
  /** Float epochs on standardised targets. */
  epochs: number;
  batchSize: number;
  /** Adam step size at the start; it decays on a half cosine to lr·lrFinalFraction. */
  lr: number;
  lrFinalFraction?: number;
  /** Shuffling seed. */
  seed: number;
  /** Loss on the standardised target scale (default MSE); Huber's delta is rescaled for the QAT phase. */
  loss?: LossSpec;
  /**
   * Per-feature SD of Gaussian noise added to the (normalised) inputs afresh every float epoch: a
   * regulariser (Bishop 1995, "Training with noise is equivalent to Tikhonov regularization", Neural
   * Computation 7(1):108–116). Noise on the demographic inputs keeps the network from recognising
   * individual training users and memorising them. Default: none. Not used in the QAT phase.
   */
  inputNoise?: ArrayLike<number>;
  /** Decoupled weight decay of the float phase (AdamW), default 0. */
  weightDecay?: number;
  /** Quantization-aware epochs after folding (default 0). */
  qatEpochs?: number;
  /** Constant Adam step size of the QAT phase (default lr·lrFinalFraction). */
  qatLr?: number;
  /** Called after every epoch. */
  onEpoch?: (e: EpochRecord) => void;
}

export interface EpochRecord {
  phase: 'float' | 'qat';
  epoch: number;
  /** Mean minibatch loss (standardised units in the float phase, kcal/min units in QAT). */
  loss: number;
}

export interface TrainResult {
  targetMean: number;
  targetStd: number;
  history: EpochRecord[];
}

function checkCount(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`train: ${name} must be an integer ≥ ${min}, got ${String(v)}`);
}

/** Cosine decay from lr to lr·f over `total` steps (Loshchilov & Hutter 2017, arXiv:1608.03983, one cycle). */
export function cosineLr(lr: number, f: number, step: number, total: number): number {
  const p = total <= 1 ? 1 : Math.min(1, step / (total - 1));
  return lr * (f + (1 - f) * 0.5 * (1 + Math.cos(Math.PI * p)));
}

/**
 * Trains `model` in place on X [n × inputs] (already normalised) against y [n] (kcal/min). Deterministic
 * for a given seed. Returns the target scaling that was folded into the head and the loss history.
 */
export function trainRegressor(model: Mlp, X: Float32Array, y: ArrayLike<number>, opts: TrainOptions): TrainResult {
  if (model.outputSize !== 1) throw new Error(`trainRegressor: the model must have one output, it has ${model.outputSize}`);
  const n = y.length;
  checkCount('number of examples', n, 1);
  checkCount('epochs', opts.epochs, 0);
  checkCount('batchSize', opts.batchSize, 1);
  const qatEpochs = opts.qatEpochs ?? 0;
  checkCount('qatEpochs', qatEpochs, 0);
  const f = opts.lrFinalFraction ?? 0.05;
  if (!(f > 0 && f <= 1)) throw new RangeError(`train: lrFinalFraction must be in (0, 1], got ${f}`);
  if (X.length !== n * model.inputSize) throw new Error(`trainRegressor: X has ${X.length} values, ${n} rows of ${model.inputSize} need ${n * model.inputSize}`);

  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i];
  mean /= n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (y[i] - mean) ** 2;
  const std = Math.sqrt(sq / n) || 1;
  const z = new Float32Array(n);
  for (let i = 0; i < n; i++) z[i] = (y[i] - mean) / std;

  const rng = seededRng(opts.seed);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const history: EpochRecord[] = [];
  const loss = opts.loss ?? MSE;
  const batches = Math.ceil(n / opts.batchSize);

  const cols = model.inputSize;
  const noise = opts.inputNoise;
  if (noise !== undefined) {
    if (noise.length !== cols) throw new Error(`trainRegressor: inputNoise has ${noise.length} entries for ${cols} inputs`);
    for (let j = 0; j < cols; j++) if (!(noise[j] >= 0) || !Number.isFinite(noise[j])) throw new RangeError(`trainRegressor: inputNoise[${j}] must be finite and >= 0, got ${noise[j]}`);
  }
  const noisy = noise !== undefined && Array.from(noise).some((s) => s > 0);
  // The float phase trains on Xwork, which holds X plus fresh noise each epoch when noise is asked for.
  const Xwork = noisy ? Float32Array.from(X) : X;
  const noiseRng = seededRng((opts.seed ^ 0x5bd1e995) >>> 0);
  const refreshNoise = (): void => {
    if (!noisy || noise === undefined) return;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < cols; j++) {
        const c = i * cols + j;
        Xwork[c] = noise[j] > 0 ? X[c] + noise[j] * gaussian(noiseRng) : X[c];
      }
    }
  };

  const runPhase = (source: MlpGradientSource, epochs: number, phase: EpochRecord['phase'], lrAt: (step: number) => number, weightDecay = 0): void => {
    const adam = new Adam(source.paramCount, { lr: lrAt(0), weightDecay });
    const grad = new Float64Array(source.paramCount);
    const params = source.trainableParams();
    let step = 0;
    for (let e = 0; e < epochs; e++) {
      if (phase === 'float') refreshNoise();
      // Fisher–Yates with the seeded stream: the same seed gives the same batches.
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      let total = 0;
      for (let b = 0; b < batches; b++) {
        const idx = order.subarray(b * opts.batchSize, Math.min(n, (b + 1) * opts.batchSize));
        total += source.meanGradient(idx, grad) * idx.length;
        adam.step(params, grad, lrAt(step++));
      }
      const rec: EpochRecord = { phase, epoch: e, loss: total / n };
      history.push(rec);
      opts.onEpoch?.(rec);
    }
  };

  const totalSteps = opts.epochs * batches;
  runPhase(new MlpGradientSource(model, Xwork, z, { loss, kernels: 'ts' }), opts.epochs, 'float', (s) => cosineLr(opts.lr, f, s, totalSteps), opts.weightDecay ?? 0);
  foldTargetScaling(model, mean, std);
  if (qatEpochs > 0) {
    const qatLoss = loss.kind === 'huber' ? huber(loss.delta * std) : loss;
    const qatLr = opts.qatLr ?? opts.lr * f;
    runPhase(new MlpGradientSource(model, X, y, { loss: qatLoss, quantAware: true, kernels: 'ts' }), qatEpochs, 'qat', () => qatLr);
  }
  return { targetMean: mean, targetStd: std, history };
}

/** Makes a model trained on (y − mean)/std output y: scales the head's weights and bias. */
export function foldTargetScaling(model: Mlp, mean: number, std: number): void {
  const L = model.layout.layers[model.layout.layers.length - 1];
  const p = model.params;
  for (let j = L.weightOffset; j < L.biasOffset; j++) p[j] *= std;
  for (let o = 0; o < L.outSize; o++) p[L.biasOffset + o] = p[L.biasOffset + o] * std + mean;
}
