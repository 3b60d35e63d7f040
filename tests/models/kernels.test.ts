/** The register-blocked kernels against naive loops, over shapes that hit every remainder path. */
import { describe, expect, it } from 'vitest';
import { EPI_DRELU, EPI_DTANH, EPI_NONE, EPI_RELU, EPI_TANH, gemmNT, transposeInto, weightedOuterSum } from '../../models/kernels.ts';
import { seededRng } from '../../models/random.ts';

const rng = seededRng(99);
const rand = (n: number) => Float64Array.from({ length: n }, () => 2 * rng() - 1);
const shapes: Array<[number, number, number]> = [];
for (const B of [1, 2, 3, 5, 8]) for (const K of [1, 3, 4]) for (const N of [1, 2, 4, 5, 7]) shapes.push([B, K, N]);

describe('kernels (float64, abs 1e-14)', () => {
  it('gemmNT = naive X Mᵀ + b with each epilogue', () => {
    for (const [B, K, N] of shapes) {
      for (const mode of [EPI_NONE, EPI_TANH, EPI_RELU, EPI_DTANH, EPI_DRELU]) {
        const X = rand(B * K);
        const mOff = 3;
        const M = rand(mOff + N * K + N);
        const bOff = mode >= EPI_DTANH ? -1 : mOff + N * K;
        const D = rand(B * N);
        const Y = new Float64Array(B * N);
        gemmNT(X, M, mOff, bOff, K, N, Y, B, mode, D);
        for (let i = 0; i < B; i++) {
          for (let n = 0; n < N; n++) {
            let s = bOff >= 0 ? M[bOff + n] : 0;
            for (let k = 0; k < K; k++) s += X[i * K + k] * M[mOff + n * K + k];
            const d = D[i * N + n];
            const e = [s, Math.tanh(s), Math.max(s, 0), s * (1 - d * d), d > 0 ? s : 0][mode];
            expect(Math.abs(Y[i * N + n] - e)).toBeLessThan(1e-14);
          }
        }
      }
    }
  });

  it('transposeInto', () => {
    const M = Float64Array.from([9, 1, 2, 3, 4, 5, 6]);
    const T = new Float64Array(6);
    transposeInto(M, 1, 2, 3, T);
    expect(Array.from(T)).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('weightedOuterSum = naive Σ w_i δ_i a_iᵀ, flat and per-tensor weights', () => {
    for (const [B, K, O] of shapes) {
      const A = rand(B * K);
      const G = rand(B * O);
      const w = rand(B);
      const T = 4;
      const t = 2;
      const pt = rand(B * T);
      for (const perTensor of [undefined, pt]) {
        const out = rand(1 + O * K + O);
        const expected = Float64Array.from(out);
        weightedOuterSum(A, G, K, O, B, w, perTensor, T, t, out, 1, 1 + O * K);
        for (let i = 0; i < B; i++) {
          const ww = perTensor ? perTensor[i * T + t] : w[i];
          const wb = perTensor ? perTensor[i * T + t + 1] : w[i];
          for (let o = 0; o < O; o++) {
            expected[1 + O * K + o] += wb * G[i * O + o];
            for (let k = 0; k < K; k++) expected[1 + o * K + k] += ww * G[i * O + o] * A[i * K + k];
          }
        }
        for (let j = 0; j < out.length; j++) expect(Math.abs(out[j] - expected[j])).toBeLessThan(1e-14);
      }
    }
  });
});
