/**
 * Symmetric int8 per-output-channel weight quantization, and the fake quantization used for
 * quantization-aware training.
 *
 * Each weight row W[o, :] (one output channel, torch layout) gets scale s_o = max|W[o, :]| / 127 and
 * zero point 0; q = clamp(round_half_even(w / s_o), -127, 127). -128 is never used, so the range is
 * symmetric (as torch's qint8 symmetric observers with reduce_range off, and ORT's weight quantizer).
 * Biases stay float32: in the exported QDQ graph only weights are quantized (weight-only QDQ,
 * shared/notes/edge-stack.md §3, the variant that kept accuracy best there).
 *
 * Quantization-aware training (Jacob et al. 2018, "Quantization and Training of Neural Networks for
 * Efficient Integer-Arithmetic-Only Inference", arXiv:1712.05877): the forward and backward passes
 * use the fake-quantized weights deq(q(W)); the gradient is applied to the float weights as if
 * fake quantization were the identity — the straight-through estimator (Bengio, Léonard, Courville
 * 2013, arXiv:1308.3432). With max-abs scales no weight is ever clipped, so the plain identity STE is
 * the right one (no clipping mask).
 */
import type { MlpArchitecture, MlpLayout } from './layout.ts';
import { mlpLayout } from './layout.ts';
import { Mlp, type Floats } from './mlp.ts';
import { meanAbsoluteError } from './losses.ts';

export const INT8_QMAX = 127;
/**
 * Smallest scale: torch's observers clamp scales to float32 epsilon (torch/ao/quantization/observer.py,
 * _calculate_qparams) so an all-zero row gets a usable, non-zero scale. Rows with max|w| below
 * 127·eps then quantize on the eps grid, and |w - deq| ≤ scale/2 still holds.
 */
export const MIN_SCALE = 2 ** -23;

/** Round half to even, as ONNX QuantizeLinear and torch (nearbyint) do. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface QuantizedLinear {
  readonly inSize: number;
  readonly outSize: number;
  /** [out × in] row-major, torch layout. */
  readonly weights: Int8Array;
  /** One float32 scale per output channel (row). */
  readonly scales: Float32Array;
  readonly bias: Float32Array;
}

export interface QuantizedMlp {
  readonly arch: MlpArchitecture;
  readonly layers: readonly QuantizedLinear[];
}

/**
 * Quantizes rows [0, rows) of W (starting at `offset`, [rows × cols]) into qOut [rows × cols] and
 * scalesOut [rows].
 */
export function quantizeRows(
  W: ArrayLike<number>, offset: number, rows: number, cols: number, qOut: Int8Array, scalesOut: Float32Array,
): void {
  for (let r = 0; r < rows; r++) {
    const base = offset + r * cols;
    let maxAbs = 0;
    for (let c = 0; c < cols; c++) {
      const a = Math.abs(W[base + c]);
      if (a > maxAbs) maxAbs = a;
    }
    if (!Number.isFinite(maxAbs)) throw new Error(`quantize: row ${r} contains a non-finite weight`);
    const s = Math.fround(Math.max(maxAbs / INT8_QMAX, MIN_SCALE));
    scalesOut[r] = s;
    for (let c = 0; c < cols; c++) {
      const q = roundHalfEven(W[base + c] / s);
      // fround(maxAbs/127) may round down, putting the largest |w|/s a hair above 127.
      qOut[r * cols + c] = q > INT8_QMAX ? INT8_QMAX : q < -INT8_QMAX ? -INT8_QMAX : q;
    }
  }
}

/**
 * out[outOffset + r·cols + c] = float32(q · s_r): the same single float32 product ONNX
 * DequantizeLinear computes, so TS and onnxruntime agree bit for bit on the weights.
 */
export function dequantizeRows(
  q: Int8Array, scales: Float32Array, rows: number, cols: number, out: Floats, outOffset: number,
): void {
  for (let r = 0; r < rows; r++) {
    const s = scales[r];
    for (let c = 0; c < cols; c++) out[outOffset + r * cols + c] = Math.fround(q[r * cols + c] * s);
  }
}

export function quantizeMlp(model: Mlp): QuantizedMlp {
  return quantizeParams(model.layout, model.params);
}

export function quantizeParams(layout: MlpLayout, params: Floats): QuantizedMlp {
  const layers = layout.layers.map((L): QuantizedLinear => {
    const weights = new Int8Array(L.outSize * L.inSize);
    const scales = new Float32Array(L.outSize);
    quantizeRows(params, L.weightOffset, L.outSize, L.inSize, weights, scales);
    const bias = Float32Array.from(params.subarray(L.biasOffset, L.biasOffset + L.outSize));
    return { inSize: L.inSize, outSize: L.outSize, weights, scales, bias };
  });
  return { arch: layout.arch, layers };
}

/** The float32 parameter vector the int8 model computes with (dequantized weights, float biases). */
export function dequantizeMlp(qm: QuantizedMlp): Float32Array {
  const layout = mlpLayout(qm.arch);
  const out = new Float32Array(layout.paramCount);
  layout.layers.forEach((L, l) => {
    const ql = qm.layers[l];
    if (!ql || ql.inSize !== L.inSize || ql.outSize !== L.outSize) throw new Error(`dequantizeMlp: layer ${l} does not match the architecture`);
    dequantizeRows(ql.weights, ql.scales, L.outSize, L.inSize, out, L.weightOffset);
    out.set(ql.bias, L.biasOffset);
  });
  return out;
}

/**
 * Reusable fake quantizer: out = deq(q(W)) for every weight tensor, biases rounded to float32.
 * Buffers are allocated once per layout (it runs once per DP-SGD step).
 */
export class FakeQuantizer {
  private readonly q: Int8Array;
  private readonly scales: Float32Array;

  constructor(readonly layout: MlpLayout) {
    const widest = Math.max(...layout.layers.map((L) => L.inSize * L.outSize));
    this.q = new Int8Array(widest);
    this.scales = new Float32Array(Math.max(...layout.layers.map((L) => L.outSize)));
  }

  apply(params: Floats, out: Floats): void {
    for (const L of this.layout.layers) {
      quantizeRows(params, L.weightOffset, L.outSize, L.inSize, this.q, this.scales);
      dequantizeRows(this.q, this.scales, L.outSize, L.inSize, out, L.weightOffset);
      for (let o = 0; o < L.outSize; o++) out[L.biasOffset + o] = Math.fround(params[L.biasOffset + o]);
    }
  }
}

export function fakeQuantizeParams(layout: MlpLayout, params: Floats, out: Floats): void {
  new FakeQuantizer(layout).apply(params, out);
}

export interface QuantizationCost {
  /** Mean absolute error of the float32 model against the targets. */
  maeFloat32: number;
  /** Mean absolute error of the int8 (dequantized) model against the targets. */
  maeInt8: number;
  /** maeInt8 - maeFloat32: what shipping int8 costs (can be negative by luck). */
  maeIncrease: number;
  /** Largest |int8 output - float32 output| over the data. */
  maxAbsOutputDiff: number;
  samples: number;
}

/** Accuracy cost of int8 against float32 on data X [n × in], y [n × out]. */
export function quantizationCost(model: Mlp, X: ArrayLike<number>, y: ArrayLike<number>, n: number): QuantizationCost {
  const k = model.outputSize;
  if (y.length < n * k) throw new Error(`quantizationCost: y has ${y.length} values, ${n} samples need ${n * k}`);
  const f32 = model.dtype === 'float32' ? model : model.clone('float32');
  const predFloat = f32.predict(X, n);
  const predInt8 = f32.predict(X, n, undefined, dequantizeMlp(quantizeMlp(f32)));
  let maxDiff = 0;
  for (let j = 0; j < n * k; j++) maxDiff = Math.max(maxDiff, Math.abs(predInt8[j] - predFloat[j]));
  const maeFloat32 = meanAbsoluteError(predFloat, y, n * k);
  const maeInt8 = meanAbsoluteError(predInt8, y, n * k);
  return { maeFloat32, maeInt8, maeIncrease: maeInt8 - maeFloat32, maxAbsOutputDiff: maxDiff, samples: n };
}
