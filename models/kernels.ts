/**
 * The dense kernels behind forward, backward and the clipped gradient sum. Plain loops over typed
 * arrays, register-blocked so each loaded value feeds several multiply-adds: measured on the
 * development machine for a 128×128 layer at batch 256 (bench/per-sample-grad.ts, 2026-11-28),
 * 2 samples × 4 outputs took the forward product from 0.8 to 2.0 GMAC/s, and 4 samples × 2 output
 * rows per pass took the weighted outer-product sum from 0.6 to 1.9 GMAC/s (CPU time, shared machine). Sums run in JS numbers (float64)
 * whatever the storage type; their order differs from a naive loop only by float64 rounding.
 */
import type { Floats } from './mlp.ts';

/** What happens to each dot product before it is stored (the "epilogue"). */
export const EPI_NONE = 0;
export const EPI_TANH = 1;
export const EPI_RELU = 2;
/** Multiply by tanh'(z) = 1 - a², with a the stored activation D[i, n]. */
export const EPI_DTANH = 3;
/** Multiply by relu'(z) = [a > 0] (0 at the kink, as torch). */
export const EPI_DRELU = 4;

function finish(mode: number, s: number, D: Floats, j: number): number {
  switch (mode) {
    case EPI_NONE:
      return s;
    case EPI_TANH:
      return Math.tanh(s);
    case EPI_RELU:
      return s > 0 ? s : 0;
    case EPI_DTANH: {
      const a = D[j];
      return s * (1 - a * a);
    }
    default:
      return D[j] > 0 ? s : 0;
  }
}

/**
 * Y[i, n] = epi(bias[n] + Σ_k X[i, k] · M[n, k]) for i < batch, n < N, with X [batch × K] and
 * M [N × K] row-major starting at mOff (so M is a torch weight [out, in] and Y = X Mᵀ + b).
 * `bOff < 0` means no bias. D (same shape as Y) is read by the derivative epilogues.
 */
export function gemmNT(
  X: Floats, M: Floats, mOff: number, bOff: number, K: number, N: number,
  Y: Floats, batch: number, mode: number, D: Floats,
): void {
  const hasBias = bOff >= 0;
  let i = 0;
  for (; i + 1 < batch; i += 2) {
    const x0 = i * K;
    const x1 = x0 + K;
    const y0 = i * N;
    const y1 = y0 + N;
    let n = 0;
    for (; n + 3 < N; n += 4) {
      const m0 = mOff + n * K;
      const m1 = m0 + K;
      const m2 = m1 + K;
      const m3 = m2 + K;
      let s00 = hasBias ? M[bOff + n] : 0;
      let s01 = hasBias ? M[bOff + n + 1] : 0;
      let s02 = hasBias ? M[bOff + n + 2] : 0;
      let s03 = hasBias ? M[bOff + n + 3] : 0;
      let s10 = s00;
      let s11 = s01;
      let s12 = s02;
      let s13 = s03;
      for (let k = 0; k < K; k++) {
        const a = X[x0 + k];
        const b = X[x1 + k];
        const v0 = M[m0 + k];
        const v1 = M[m1 + k];
        const v2 = M[m2 + k];
        const v3 = M[m3 + k];
        s00 += v0 * a;
        s01 += v1 * a;
        s02 += v2 * a;
        s03 += v3 * a;
        s10 += v0 * b;
        s11 += v1 * b;
        s12 += v2 * b;
        s13 += v3 * b;
      }
      Y[y0 + n] = finish(mode, s00, D, y0 + n);
      Y[y0 + n + 1] = finish(mode, s01, D, y0 + n + 1);
      Y[y0 + n + 2] = finish(mode, s02, D, y0 + n + 2);
      Y[y0 + n + 3] = finish(mode, s03, D, y0 + n + 3);
      Y[y1 + n] = finish(mode, s10, D, y1 + n);
      Y[y1 + n + 1] = finish(mode, s11, D, y1 + n + 1);
      Y[y1 + n + 2] = finish(mode, s12, D, y1 + n + 2);
      Y[y1 + n + 3] = finish(mode, s13, D, y1 + n + 3);
    }
    for (; n < N; n++) {
      const m0 = mOff + n * K;
      let s0 = hasBias ? M[bOff + n] : 0;
      let s1 = s0;
      for (let k = 0; k < K; k++) {
        const v = M[m0 + k];
        s0 += v * X[x0 + k];
        s1 += v * X[x1 + k];
      }
      Y[y0 + n] = finish(mode, s0, D, y0 + n);
      Y[y1 + n] = finish(mode, s1, D, y1 + n);
    }
  }
  if (i < batch) {
    const x0 = i * K;
    const y0 = i * N;
    for (let n = 0; n < N; n++) {
      const m0 = mOff + n * K;
      let s = hasBias ? M[bOff + n] : 0;
      for (let k = 0; k < K; k++) s += M[m0 + k] * X[x0 + k];
      Y[y0 + n] = finish(mode, s, D, y0 + n);
    }
  }
}

/** T[c, r] = M[mOff + r·cols + c]: an [rows × cols] block transposed into T [cols × rows]. */
export function transposeInto(M: Floats, mOff: number, rows: number, cols: number, T: Floats): void {
  for (let r = 0; r < rows; r++) {
    const src = mOff + r * cols;
    for (let c = 0; c < cols; c++) T[c * rows + r] = M[src + c];
  }
}

/**
 * out[wBase + o·K + k] += Σ_i ww_i G[i, o] A[i, k] and out[bBase + o] += Σ_i wb_i G[i, o]: the
 * weighted sum of per-sample linear-layer gradients, Gᵀ diag(w) A, four samples per pass over out.
 * ww_i / wb_i are weights[i], or perTensor[i·T + t] / perTensor[i·T + t + 1] when perTensor is given.
 */
export function weightedOuterSum(
  A: Floats, G: Floats, K: number, O: number, batch: number,
  weights: Float64Array, perTensor: Float64Array | undefined, T: number, t: number,
  out: Float64Array, wBase: number, bBase: number,
): void {
  let i = 0;
  for (; i + 3 < batch; i += 4) {
    const a0 = i * K;
    const a1 = a0 + K;
    const a2 = a1 + K;
    const a3 = a2 + K;
    const g0 = i * O;
    const g1 = g0 + O;
    const g2 = g1 + O;
    const g3 = g2 + O;
    const w0 = perTensor ? perTensor[i * T + t] : weights[i];
    const w1 = perTensor ? perTensor[(i + 1) * T + t] : weights[i + 1];
    const w2 = perTensor ? perTensor[(i + 2) * T + t] : weights[i + 2];
    const w3 = perTensor ? perTensor[(i + 3) * T + t] : weights[i + 3];
    const b0 = perTensor ? perTensor[i * T + t + 1] : w0;
    const b1 = perTensor ? perTensor[(i + 1) * T + t + 1] : w1;
    const b2 = perTensor ? perTensor[(i + 2) * T + t + 1] : w2;
    const b3 = perTensor ? perTensor[(i + 3) * T + t + 1] : w3;
    let o = 0;
    // Two output rows per pass: the four activation rows loaded once feed both.
    for (; o + 1 < O; o += 2) {
      const d0 = G[g0 + o];
      const d1 = G[g1 + o];
      const d2 = G[g2 + o];
      const d3 = G[g3 + o];
      const e0 = G[g0 + o + 1];
      const e1 = G[g1 + o + 1];
      const e2 = G[g2 + o + 1];
      const e3 = G[g3 + o + 1];
      out[bBase + o] += b0 * d0 + b1 * d1 + b2 * d2 + b3 * d3;
      out[bBase + o + 1] += b0 * e0 + b1 * e1 + b2 * e2 + b3 * e3;
      const c0 = w0 * d0;
      const c1 = w1 * d1;
      const c2 = w2 * d2;
      const c3 = w3 * d3;
      const f0 = w0 * e0;
      const f1 = w1 * e1;
      const f2 = w2 * e2;
      const f3 = w3 * e3;
      const row = wBase + o * K;
      const row1 = row + K;
      for (let k = 0; k < K; k++) {
        const x0 = A[a0 + k];
        const x1 = A[a1 + k];
        const x2 = A[a2 + k];
        const x3 = A[a3 + k];
        out[row + k] += c0 * x0 + c1 * x1 + c2 * x2 + c3 * x3;
        out[row1 + k] += f0 * x0 + f1 * x1 + f2 * x2 + f3 * x3;
      }
    }
    for (; o < O; o++) {
      const d0 = G[g0 + o];
      const d1 = G[g1 + o];
      const d2 = G[g2 + o];
      const d3 = G[g3 + o];
      out[bBase + o] += b0 * d0 + b1 * d1 + b2 * d2 + b3 * d3;
      const c0 = w0 * d0;
      const c1 = w1 * d1;
      const c2 = w2 * d2;
      const c3 = w3 * d3;
      const row = wBase + o * K;
      for (let k = 0; k < K; k++) out[row + k] += c0 * A[a0 + k] + c1 * A[a1 + k] + c2 * A[a2 + k] + c3 * A[a3 + k];
    }
  }
  for (; i < batch; i++) {
    const a0 = i * K;
    const g0 = i * O;
    const w0 = perTensor ? perTensor[i * T + t] : weights[i];
    const b0 = perTensor ? perTensor[i * T + t + 1] : w0;
    for (let o = 0; o < O; o++) {
      const d0 = G[g0 + o];
      out[bBase + o] += b0 * d0;
      const c0 = w0 * d0;
      const row = wBase + o * K;
      for (let k = 0; k < K; k++) out[row + k] += c0 * A[a0 + k];
    }
  }
}
