/**
 * The MLP's math over flat typed arrays: batched forward and backward that keep, for the whole batch,
 * each linear layer's input activations A_l [B×in] and backprops G_l = dLoss_i/dZ_l [B×out] — exactly
 * what per-sample gradients of linear layers are made of (Opacus grad_sample/linear.py:
 * grad_sample[W] = einsum("ni,nj->nij", backprops, activations)).
 *
 * Storage is float32 (what ships and what Opacus benchmarks) or float64 (for finite-difference
 * checks and the float64 reference vectors). On the TS kernels (kernels.ts) dot products are
 * accumulated in JS numbers (float64) whichever storage is used, and rounded once per stored
 * element; a float32 workspace with `simd` set runs on the WebAssembly SIMD kernels
 * (wasm-kernels.ts) instead, which sum in float32.
 */
import {
  type MlpArchitecture,
  type MlpLayout,
  mlpLayout,
} from './layout.ts';
import { EPI_DRELU, EPI_DTANH, EPI_NONE, EPI_RELU, EPI_TANH, gemmNT, transposeInto } from './kernels.ts';
import { wasmBackwardLayer, wasmForwardLayer, wasmKernelsActive } from './wasm-kernels.ts';

export type Floats = Float32Array | Float64Array;
export type DType = 'float32' | 'float64';

export function allocFloats(dtype: DType, n: number): Floats {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

export function dtypeOf(a: Floats): DType {
  return a instanceof Float64Array ? 'float64' : 'float32';
}

/** Preallocated per-batch buffers; grows only when a larger batch arrives, never shrinks. */
export class MlpWorkspace {
  readonly layout: MlpLayout;
  readonly dtype: DType;
  capacity = 0;
  /** inputs[l] = A_l, the input of linear layer l, row-major [capacity × in_l]; inputs[0] is the batch. */
  inputs: Floats[] = [];
  /** Z of the last layer, [capacity × out]. */
  output: Floats;
  /** backprops[l] = G_l = dLoss_i/dZ_l, [capacity × out_l]. */
  backprops: Floats[] = [];
  /** transposed[l] = W_lᵀ [in × out], refreshed by every backward pass. */
  readonly transposed: Floats[];
  /**
   * Run float32 passes on the WebAssembly SIMD kernels (wasm-kernels.ts) when they are active. Off
   * by default: those sum in float32, so results move by float32 rounding, and the base model's
   * byte-for-byte reproduction (models/base) was trained on the TS kernels. MlpGradientSource turns
   * it on for DP-SGD unless told otherwise.
   */
  simd = false;

  constructor(layout: MlpLayout, dtype: DType, capacity = 0) {
    this.layout = layout;
    this.dtype = dtype;
    this.output = allocFloats(dtype, 0);
    this.transposed = layout.layers.map((l) => allocFloats(dtype, l.inSize * l.outSize));
    this.ensureCapacity(capacity);
  }

  ensureCapacity(batch: number): void {
    if (batch <= this.capacity) return;
    // Grow geometrically so a slowly growing Poisson batch size does not reallocate every step.
    const cap = Math.max(batch, Math.ceil(this.capacity * 1.5), 8);
    const { layers } = this.layout;
    this.inputs = layers.map((l) => allocFloats(this.dtype, cap * l.inSize));
    this.backprops = layers.map((l) => allocFloats(this.dtype, cap * l.outSize));
    this.output = allocFloats(this.dtype, cap * layers[layers.length - 1].outSize);
    this.capacity = cap;
  }
}

/**
 * Forward pass for the batch already in ws.inputs[0][0 .. batch·in). `weights` is a full parameter
 * vector in the layout (the float parameters, or their fake-quantized copy for quantization-aware
 * training). Fills ws.inputs[1..] and ws.output. Z = A Wᵀ + b with W in torch's [out, in] layout, so
 * both operands are walked along contiguous rows.
 */
export function forwardBatch(layout: MlpLayout, weights: Floats, ws: MlpWorkspace, batch: number): void {
  if (batch > ws.capacity) throw new Error(`forwardBatch: batch ${batch} exceeds workspace capacity ${ws.capacity}`);
  const hidden = layout.arch.activation === 'tanh' ? EPI_TANH : EPI_RELU;
  const layers = layout.layers;
  const last = layers.length - 1;
  const simd = ws.simd && weights instanceof Float32Array && ws.dtype === 'float32' && wasmKernelsActive();
  for (let l = 0; l <= last; l++) {
    const L = layers[l];
    const dst = l === last ? ws.output : ws.inputs[l + 1];
    if (simd) {
      wasmForwardLayer(ws.inputs[l] as Float32Array, weights, L.weightOffset, L.biasOffset, L.inSize, L.outSize, dst as Float32Array, batch, l === last ? EPI_NONE : hidden);
      continue;
    }
    gemmNT(ws.inputs[l], weights, L.weightOffset, L.biasOffset, L.inSize, L.outSize, dst, batch, l === last ? EPI_NONE : hidden, dst);
  }
}

/**
 * Backward pass: given ws.backprops[last] = dLoss_i/dOutput_i (per sample, already filled by the
 * loss), computes G_l for l = last-1 down to `firstLayer`. Layers below `firstLayer` are skipped:
 * training only the head needs no backprop through the body.
 *
 * G_{l-1} = (G_l W_l) ⊙ act'(Z_{l-1}); W_l is transposed once per call (in·out work against
 * batch·in·out for the product) so the product walks contiguous rows like the forward pass. The
 * activation derivative comes from the stored output a = A_l: tanh' = 1 - a², relu' = [a > 0].
 */
export function backwardBatch(layout: MlpLayout, weights: Floats, ws: MlpWorkspace, batch: number, firstLayer = 0): void {
  const deriv = layout.arch.activation === 'tanh' ? EPI_DTANH : EPI_DRELU;
  const layers = layout.layers;
  const simd = ws.simd && weights instanceof Float32Array && ws.dtype === 'float32' && wasmKernelsActive();
  for (let l = layers.length - 1; l > firstLayer; l--) {
    const L = layers[l];
    if (simd) {
      wasmBackwardLayer(ws.backprops[l] as Float32Array, weights, L.weightOffset, L.outSize, L.inSize, ws.backprops[l - 1] as Float32Array, batch, deriv, ws.inputs[l] as Float32Array);
      continue;
    }
    const Wt = ws.transposed[l];
    transposeInto(weights, L.weightOffset, L.outSize, L.inSize, Wt);
    gemmNT(ws.backprops[l], Wt, 0, -1, L.outSize, L.inSize, ws.backprops[l - 1], batch, deriv, ws.inputs[l]);
  }
}

/** Copies rows `indices` of X [n × cols] into dst [indices.length × cols]. */
export function gatherRows(X: ArrayLike<number>, cols: number, indices: ArrayLike<number>, dst: Floats): void {
  const n = indices.length;
  for (let r = 0; r < n; r++) {
    const src = indices[r] * cols;
    const d = r * cols;
    for (let c = 0; c < cols; c++) dst[d + c] = X[src + c];
  }
}

/** PyTorch's default nn.Linear init: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a=sqrt(5)). */
export function initializeParams(layout: MlpLayout, params: Floats, rng: () => number): void {
  for (const L of layout.layers) {
    const bound = 1 / Math.sqrt(L.inSize);
    const end = L.biasOffset + L.outSize;
    for (let p = L.weightOffset; p < end; p++) params[p] = (2 * rng() - 1) * bound;
  }
}

/** A torch-style state dict: name → nested arrays ([out][in] for weights, [out] for biases). */
export type StateDict = Record<string, number[] | number[][]>;

/** Writes a torch state_dict (as in dp-step.json's model.params) into a flat parameter vector. */
export function stateDictToFlat(layout: MlpLayout, dict: StateDict, out: Floats): void {
  for (const t of layout.tensors) {
    const v = dict[t.name];
    if (v === undefined) throw new Error(`state dict: missing tensor ${t.name} (expected shape [${t.shape.join(', ')}])`);
    const flat = (v as unknown[]).flat() as number[];
    const rows = (v as unknown[]).length;
    if (flat.length !== t.size || rows !== t.shape[0]) {
      throw new Error(`state dict: tensor ${t.name} has ${flat.length} values in ${rows} rows, expected shape [${t.shape.join(', ')}]`);
    }
    for (let j = 0; j < t.size; j++) {
      const x = flat[j];
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`state dict: tensor ${t.name}[${j}] is not a finite number`);
      out[t.offset + j] = x;
    }
  }
}

export function flatToStateDict(layout: MlpLayout, params: Floats): StateDict {
  const dict: StateDict = {};
  for (const t of layout.tensors) {
    const v = Array.from(params.subarray(t.offset, t.offset + t.size));
    if (t.kind === 'bias') dict[t.name] = v;
    else {
      const [rows, cols] = t.shape;
      dict[t.name] = Array.from({ length: rows }, (_, r) => v.slice(r * cols, (r + 1) * cols));
    }
  }
  return dict;
}

export interface MlpOptions {
  dtype?: DType;
  /** Initial parameters (copied); zeros if absent. */
  params?: ArrayLike<number>;
}

/** Rows per forward call in predict(): bounds the workspace for large inputs. */
const PREDICT_CHUNK = 1024;

/**
 * A model is its architecture plus one flat parameter vector. No optimizer state lives here: DP-SGD
 * (privacy/) or a later trainer owns the update rule and writes into `params` in place.
 */
export class Mlp {
  readonly layout: MlpLayout;
  readonly dtype: DType;
  readonly params: Floats;
  private ws: MlpWorkspace | null = null;

  constructor(arch: MlpArchitecture, opts: MlpOptions = {}) {
    this.layout = mlpLayout(arch);
    this.dtype = opts.dtype ?? 'float32';
    this.params = allocFloats(this.dtype, this.layout.paramCount);
    if (opts.params) {
      if (opts.params.length !== this.layout.paramCount) {
        throw new Error(`Mlp: ${opts.params.length} parameters given, architecture ${arch.layerSizes.join('-')} has ${this.layout.paramCount}`);
      }
      this.params.set(opts.params);
    }
  }

  static fromStateDict(arch: MlpArchitecture, dict: StateDict, dtype: DType = 'float32'): Mlp {
    const m = new Mlp(arch, { dtype });
    stateDictToFlat(m.layout, dict, m.params);
    return m;
  }

  get arch(): MlpArchitecture { return this.layout.arch; }
  get inputSize(): number { return this.layout.arch.layerSizes[0]; }
  get outputSize(): number { return this.layout.arch.layerSizes[this.layout.arch.layerSizes.length - 1]; }
  get paramCount(): number { return this.layout.paramCount; }

  /** A view (not a copy) of one tensor, by torch name ("0.weight", "4.bias", ...). */
  tensor(name: string): Floats {
    const t = this.layout.tensors.find((x) => x.name === name);
    if (!t) throw new Error(`Mlp: no tensor ${name}; tensors are ${this.layout.tensors.map((x) => x.name).join(', ')}`);
    return this.params.subarray(t.offset, t.offset + t.size);
  }

  clone(dtype: DType = this.dtype): Mlp {
    return new Mlp(this.arch, { dtype, params: this.params });
  }

  toStateDict(): StateDict {
    return flatToStateDict(this.layout, this.params);
  }

  /**
   * Outputs for `batch` rows of X [batch × inputSize] into out [batch × outputSize] (allocated if
   * absent). `weights` overrides the parameters (e.g. dequantized int8 weights).
   */
  predict(X: ArrayLike<number>, batch: number, out?: Floats, weights: Floats = this.params): Floats {
    const nIn = this.inputSize;
    const nOut = this.outputSize;
    if (X.length < batch * nIn) throw new Error(`Mlp.predict: X has ${X.length} values, ${batch} rows of ${nIn} need ${batch * nIn}`);
    if (weights.length !== this.paramCount) throw new Error(`Mlp.predict: weights have ${weights.length} values, expected ${this.paramCount}`);
    const y = out ?? allocFloats(this.dtype, batch * nOut);
    if (y.length < batch * nOut) throw new Error(`Mlp.predict: out has ${y.length} values, need ${batch * nOut}`);
    if (!this.ws) this.ws = new MlpWorkspace(this.layout, this.dtype);
    const ws = this.ws;
    for (let start = 0; start < batch; start += PREDICT_CHUNK) {
      const n = Math.min(PREDICT_CHUNK, batch - start);
      ws.ensureCapacity(n);
      const A0 = ws.inputs[0];
      const base = start * nIn;
      for (let j = 0; j < n * nIn; j++) A0[j] = X[base + j];
      forwardBatch(this.layout, weights, ws, n);
      y.set(ws.output.subarray(0, n * nOut), start * nOut);
    }
    return y;
  }
}
