/**
 * Per-sample gradients of linear layers from the batch's activations and backprops, without
 * materialising them.
 *
 * For a linear layer Z = A W^T + b, sample i's gradient is g_W = δ_i a_iᵀ (an outer product) and
 * g_b = δ_i, with a_i the layer's input row and δ_i = dLoss_i/dZ_i. Hence
 *   ||g_W||² = ||a_i||² ||δ_i||²,  ||g_b||² = ||δ_i||²
 * (Goodfellow 2015, "Efficient per-example gradient computations", arXiv:1510.01799; the
 * "ghost norm" of Li et al. 2021, "Large language models can be strong differentially private
 * learners", arXiv:2110.05679), and the clipped sum DP-SGD needs is one product per layer:
 *   Σ_i w_i g_W,i = Gᵀ diag(w) A,  Σ_i w_i g_b,i = Gᵀ w.
 * Norm cost is O(B·(in+out)) per layer instead of O(B·in·out), and no B×P buffer exists.
 *
 * All functions work on layers [first, end) and a gradient vector that starts at parameter
 * `rangeOffset` (so a head-only or body-only gradient is just a shorter vector).
 */
import type { MlpLayout } from './layout.ts';
import type { Floats, MlpWorkspace } from './mlp.ts';
import { weightedOuterSum } from './kernels.ts';
import { wasmKernelsActive, wasmWeightedOuterSum } from './wasm-kernels.ts';

/**
 * normsOut[i] = ||g_i|| over the tensors of layers [first, end). perTensorOut (if given) is
 * row-major [batch][2·(end-first)], weight then bias per layer — Opacus's per_param_norms, transposed.
 * Squared norms are summed in float64.
 */
export function ghostNorms(
  layout: MlpLayout, ws: MlpWorkspace, batch: number, first: number, end: number,
  normsOut: Float64Array, perTensorOut?: Float64Array,
): void {
  const T = 2 * (end - first);
  for (let i = 0; i < batch; i++) normsOut[i] = 0;
  for (let l = first; l < end; l++) {
    const L = layout.layers[l];
    const inSize = L.inSize;
    const outSize = L.outSize;
    const A = ws.inputs[l];
    const G = ws.backprops[l];
    const t = 2 * (l - first);
    for (let i = 0; i < batch; i++) {
      let a2 = 0;
      for (let k = i * inSize, e = k + inSize; k < e; k++) a2 += A[k] * A[k];
      let d2 = 0;
      for (let o = i * outSize, e = o + outSize; o < e; o++) d2 += G[o] * G[o];
      const w2 = a2 * d2;
      // normsOut holds squared norms until the final sqrt below.
      normsOut[i] += w2 + d2;
      if (perTensorOut) {
        perTensorOut[i * T + t] = Math.sqrt(w2);
        perTensorOut[i * T + t + 1] = Math.sqrt(d2);
      }
    }
  }
  for (let i = 0; i < batch; i++) normsOut[i] = Math.sqrt(normsOut[i]);
}

/**
 * out[·] += Σ_i w_i g_i over layers [first, end). Weights are per sample (`weights[i]`) or, with
 * perTensorWeights ([batch][2·(end-first)]), per sample and tensor.
 */
export function addWeightedGradientSum(
  layout: MlpLayout, ws: MlpWorkspace, batch: number, first: number, end: number, rangeOffset: number,
  weights: Float64Array, out: Float64Array, perTensorWeights?: Float64Array,
): void {
  const T = 2 * (end - first);
  const simd = ws.simd && ws.dtype === 'float32' && wasmKernelsActive();
  for (let l = first; l < end; l++) {
    const L = layout.layers[l];
    if (simd) {
      wasmWeightedOuterSum(
        ws.inputs[l] as Float32Array, ws.backprops[l] as Float32Array, L.inSize, L.outSize, batch, weights, perTensorWeights, T, 2 * (l - first),
        out, L.weightOffset - rangeOffset, L.biasOffset - rangeOffset,
      );
      continue;
    }
    weightedOuterSum(
      ws.inputs[l], ws.backprops[l], L.inSize, L.outSize, batch, weights, perTensorWeights, T, 2 * (l - first),
      out, L.weightOffset - rangeOffset, L.biasOffset - rangeOffset,
    );
  }
}

/**
 * Writes the per-sample gradients explicitly: out[i·P + p] for P = the length of the gradient vector
 * of layers [first, end). For tests and conformance; DP-SGD never needs it.
 */
export function materializePerSampleGradients(
  layout: MlpLayout, ws: MlpWorkspace, batch: number, first: number, end: number, rangeOffset: number,
  paramCount: number, out: Floats | Float64Array,
): void {
  for (let l = first; l < end; l++) {
    const L = layout.layers[l];
    const inSize = L.inSize;
    const outSize = L.outSize;
    const A = ws.inputs[l];
    const G = ws.backprops[l];
    for (let i = 0; i < batch; i++) {
      const base = i * paramCount;
      const wBase = base + L.weightOffset - rangeOffset;
      const bBase = base + L.biasOffset - rangeOffset;
      for (let o = 0; o < outSize; o++) {
        const g = G[i * outSize + o];
        out[bBase + o] = g;
        const row = wBase + o * inSize;
        for (let k = 0; k < inSize; k++) out[row + k] = g * A[i * inSize + k];
      }
    }
  }
}
