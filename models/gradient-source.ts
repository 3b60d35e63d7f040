/**
 * The adapter between the MLP and the privacy engine: an MLP over a fixed data set is a
 * PerSampleGradientSource (privacy/types.ts), the role Opacus's GradSampleModule plays.
 */
import type { PerSampleGradientSource } from '../privacy/types.ts';
import { type MlpLayout, type ParamRange, type ParamScope, scopeEndLayer, scopeFirstLayer, scopeRange } from './layout.ts';
import { type Floats, Mlp, MlpWorkspace, allocFloats, backwardBatch, forwardBatch, gatherRows } from './mlp.ts';
import { type LossSpec, MSE, lossGradient, validateLoss } from './losses.ts';
import { addWeightedGradientSum, ghostNorms, materializePerSampleGradients } from './per-sample.ts';
import { FakeQuantizer } from './quantize.ts';

export interface GradientSourceOptions {
  /** Per-sample loss; MSE by default. */
  loss?: LossSpec;
  /**
   * Quantization-aware: forward and backward run on the int8 fake-quantized weights, the gradient
   * goes to the float weights unchanged (straight-through estimator, see quantize.ts).
   */
  quantAware?: boolean;
  /**
   * Which parameters the gradient vector covers: 'all' (default), 'body' (the federated layers) or
   * 'head' (the personal layer). The gradient vector is that contiguous range of model.params.
   */
  scope?: ParamScope;
  /**
   * 'wasm' (default): float32 models run on the WebAssembly SIMD kernels (models/wasm-kernels.ts),
   * which sum in float32; 'ts': the plain TS kernels, which sum in float64 (what the base model was
   * trained with, so `fedwear model pretrain` keeps reproducing it byte for byte). float64 models
   * always use the TS kernels.
   */
  kernels?: 'wasm' | 'ts';
}

export class MlpGradientSource implements PerSampleGradientSource {
  readonly numExamples: number;
  readonly paramCount: number;
  readonly tensorSizes: readonly number[];
  /** Where the gradient vector sits in model.params. */
  readonly range: ParamRange;
  readonly loss: LossSpec;
  readonly quantAware: boolean;
  readonly scope: ParamScope;

  private readonly layout: MlpLayout;
  private readonly first: number;
  private readonly end: number;
  private readonly ws: MlpWorkspace;
  private readonly weights: Floats;
  private readonly quantizer: FakeQuantizer | null;
  private targets: Floats;
  private batch = -1;
  private lossBuf = new Float64Array(0);

  constructor(
    readonly model: Mlp,
    /** Features, row-major [numExamples × inputSize]; kept by reference. */
    readonly X: ArrayLike<number>,
    /** Targets, row-major [numExamples × outputSize]; kept by reference. */
    readonly y: ArrayLike<number>,
    opts: GradientSourceOptions = {},
  ) {
    const nIn = model.inputSize;
    const k = model.outputSize;
    if (X.length % nIn !== 0) throw new Error(`MlpGradientSource: X has ${X.length} values, not a multiple of the ${nIn} inputs`);
    this.numExamples = X.length / nIn;
    if (y.length !== this.numExamples * k) {
      throw new Error(`MlpGradientSource: y has ${y.length} values, ${this.numExamples} examples × ${k} outputs need ${this.numExamples * k}`);
    }
    for (let j = 0; j < X.length; j++) if (!Number.isFinite(X[j])) throw new Error(`MlpGradientSource: X[${j}] is not finite`);
    for (let j = 0; j < y.length; j++) if (!Number.isFinite(y[j])) throw new Error(`MlpGradientSource: y[${j}] is not finite`);
    this.loss = opts.loss ?? MSE;
    validateLoss(this.loss);
    this.quantAware = opts.quantAware ?? false;
    this.scope = opts.scope ?? 'all';
    this.layout = model.layout;
    this.range = scopeRange(this.layout, this.scope);
    if (this.range.length === 0) throw new Error(`MlpGradientSource: scope ${this.scope} has no parameters for ${model.arch.layerSizes.join('-')}`);
    this.first = scopeFirstLayer(this.layout, this.scope);
    this.end = scopeEndLayer(this.layout, this.scope);
    this.paramCount = this.range.length;
    this.tensorSizes = this.layout.tensors.filter((t) => t.layer >= this.first && t.layer < this.end).map((t) => t.size);
    this.ws = new MlpWorkspace(this.layout, model.dtype);
    this.ws.simd = (opts.kernels ?? 'wasm') === 'wasm';
    this.targets = allocFloats(model.dtype, 0);
    this.quantizer = this.quantAware ? new FakeQuantizer(this.layout) : null;
    this.weights = this.quantAware ? allocFloats(model.dtype, this.layout.paramCount) : model.params;
  }

  /** The trainable slice of model.params (a view): what an optimizer step updates. */
  trainableParams(): Floats {
    return this.model.params.subarray(this.range.offset, this.range.offset + this.range.length);
  }

  /** Per-sample losses of the last pass (stay on the device: raw-data derived, not privatised). */
  lastLosses(): Float64Array {
    return this.lossBuf.subarray(0, Math.max(this.batch, 0));
  }

  perSampleNorms(indices: Int32Array, normsOut: Float64Array, perTensorNormsOut?: Float64Array): void {
    const B = this.pass(indices);
    if (normsOut.length < B) throw new Error(`perSampleNorms: normsOut has ${normsOut.length} slots for a batch of ${B}`);
    const T = this.tensorSizes.length;
    if (perTensorNormsOut && perTensorNormsOut.length < B * T) {
      throw new Error(`perSampleNorms: perTensorNormsOut has ${perTensorNormsOut.length} slots, batch ${B} × ${T} tensors need ${B * T}`);
    }
    ghostNorms(this.layout, this.ws, B, this.first, this.end, normsOut, perTensorNormsOut);
  }

  addWeightedGradientSum(weights: Float64Array, out: Float64Array, perTensorWeights?: Float64Array): void {
    const B = this.batch;
    if (B < 0) throw new Error('addWeightedGradientSum: call perSampleNorms first (no batch has been run)');
    if (out.length !== this.paramCount) throw new Error(`addWeightedGradientSum: out has ${out.length} values, expected paramCount ${this.paramCount}`);
    if (perTensorWeights) {
      const need = B * this.tensorSizes.length;
      if (perTensorWeights.length < need) throw new Error(`addWeightedGradientSum: perTensorWeights has ${perTensorWeights.length} values, need ${need}`);
    } else if (weights.length < B) {
      throw new Error(`addWeightedGradientSum: weights has ${weights.length} values for a batch of ${B}`);
    }
    addWeightedGradientSum(this.layout, this.ws, B, this.first, this.end, this.range.offset, weights, out, perTensorWeights);
  }

  /** Explicit per-sample gradients, out [B × paramCount] row-major. For tests and conformance. */
  perSampleGradients(indices: Int32Array, out: Float32Array | Float64Array): void {
    const B = this.pass(indices);
    if (out.length < B * this.paramCount) throw new Error(`perSampleGradients: out has ${out.length} values, need ${B * this.paramCount}`);
    materializePerSampleGradients(this.layout, this.ws, B, this.first, this.end, this.range.offset, this.paramCount, out);
  }

  /**
   * Non-private mean gradient over `indices` into out (overwritten), for ordinary (pre)training;
   * returns the mean loss.
   */
  meanGradient(indices: Int32Array, out: Float64Array): number {
    const B = this.pass(indices);
    out.fill(0);
    if (B === 0) return 0;
    const w = new Float64Array(B).fill(1 / B);
    this.addWeightedGradientSum(w, out);
    let s = 0;
    for (let i = 0; i < B; i++) s += this.lossBuf[i];
    return s / B;
  }

  /** Forward + loss + backward for the batch; leaves A_l and G_l in the workspace. */
  private pass(indices: Int32Array): number {
    const B = indices.length;
    const N = this.numExamples;
    for (let r = 0; r < B; r++) {
      const ix = indices[r];
      if (!(ix >= 0 && ix < N)) throw new Error(`batch index ${ix} at position ${r} is outside [0, ${N})`);
    }
    const model = this.model;
    const k = model.outputSize;
    this.ws.ensureCapacity(B);
    if (this.targets.length < this.ws.capacity * k) this.targets = allocFloats(model.dtype, this.ws.capacity * k);
    if (this.lossBuf.length < this.ws.capacity) this.lossBuf = new Float64Array(this.ws.capacity);
    // Parameters change between steps (the optimizer writes model.params), so re-quantize each pass.
    if (this.quantizer) this.quantizer.apply(model.params, this.weights);
    gatherRows(this.X, model.inputSize, indices, this.ws.inputs[0]);
    gatherRows(this.y, k, indices, this.targets);
    forwardBatch(this.layout, this.weights, this.ws, B);
    const last = this.layout.layers.length - 1;
    lossGradient(this.loss, this.ws.output, this.targets, B, k, this.ws.backprops[last], this.lossBuf);
    backwardBatch(this.layout, this.weights, this.ws, B, this.first);
    this.batch = B;
    return B;
  }
}
