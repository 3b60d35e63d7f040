/**
 * The WebAssembly SIMD kernels (models/wasm-kernels.ts) against the TS kernels they replace for
 * float32, over shapes that hit every remainder path of the 4×8 blocking; and the embedded bytes
 * against a fresh build of models/wasm/kernels.c when clang is installed.
 *
 * The SIMD kernels sum in float32, so agreement is to float32 rounding of the sum: each check allows
 * 1e-6 · (1 + Σ|terms|) (a K-term float32 sum errs by at most ~K·2⁻²⁴ of that, typically far less).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EPI_DRELU, EPI_DTANH, EPI_NONE, EPI_RELU, EPI_TANH, weightedOuterSum } from '../../models/kernels.ts';
import { seededRng, gaussian } from '../../models/random.ts';
import { setWasmKernels, wasmBackwardLayer, wasmForwardLayer, wasmKernelsActive, wasmKernelsAvailable, wasmWeightedOuterSum } from '../../models/wasm-kernels.ts';
import { Mlp, initializeParams } from '../../models/mlp.ts';
import { MlpGradientSource } from '../../models/gradient-source.ts';
import { EMBEDDED, buildKernels, embeddedSource } from '../../models/wasm/build.ts';

const rng = seededRng(2026);
const rand = (n: number) => Float32Array.from({ length: n }, () => 2 * rng() - 1);
const shapes: Array<[number, number, number]> = [];
for (const B of [1, 3, 4, 5, 9]) for (const K of [1, 3, 8, 17]) for (const N of [1, 3, 4, 7, 8, 13, 16]) shapes.push([B, K, N]);
const act = (mode: number, s: number, d: number) => [s, Math.tanh(s), Math.max(s, 0), s * (1 - d * d), d > 0 ? s : 0][mode];

function hasClang(): boolean {
  try {
    execFileSync('clang', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('WebAssembly SIMD kernels', () => {
  it('are available on this runtime (Node ≥ 16.4 has WebAssembly SIMD)', () => {
    expect(wasmKernelsAvailable()).toBe(true);
    expect(wasmKernelsActive()).toBe(true);
  });

  it.skipIf(!hasClang())('embedded bytes equal a fresh build of models/wasm/kernels.c (clang present)', () => {
    expect(fs.readFileSync(EMBEDDED, 'utf8')).toBe(embeddedSource(buildKernels()));
  });

  it('forward layer = epi(X Wᵀ + b) for every epilogue and remainder shape', () => {
    for (const [B, K, N] of shapes) {
      for (const mode of [EPI_NONE, EPI_TANH, EPI_RELU]) {
        const X = rand(B * K);
        const mOff = 5;
        const W = rand(mOff + N * K + N);
        for (const bOff of [-1, mOff + N * K]) {
          const Y = new Float32Array(B * N);
          wasmForwardLayer(X, W, mOff, bOff, K, N, Y, B, mode);
          for (let i = 0; i < B; i++) {
            for (let n = 0; n < N; n++) {
              let s = bOff >= 0 ? W[bOff + n] : 0;
              let mag = Math.abs(s);
              for (let k = 0; k < K; k++) {
                s += X[i * K + k] * W[mOff + n * K + k];
                mag += Math.abs(X[i * K + k] * W[mOff + n * K + k]);
              }
              expect(Math.abs(Y[i * N + n] - act(mode, s, 0))).toBeLessThanOrEqual(1e-6 * (1 + mag));
            }
          }
        }
      }
    }
  });

  it('tanh epilogue is within 3e-7 relative of Math.tanh over [-12, 12]', () => {
    const n = 24001;
    const X = Float32Array.from({ length: n }, (_, i) => -12 + i * 0.001);
    const W = Float32Array.of(1);
    const Y = new Float32Array(n);
    wasmForwardLayer(X, W, 0, -1, 1, 1, Y, n, EPI_TANH);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.tanh(X[i]);
      worst = Math.max(worst, Math.abs(Y[i] - e) / Math.max(Math.abs(e), 1e-30));
    }
    expect(worst).toBeLessThanOrEqual(3e-7);
    // Tiny inputs pass through exactly, as tanh(x) = x to float32 precision there.
    const tiny = Float32Array.of(1e-5, -3e-4, 0);
    const out = new Float32Array(3);
    wasmForwardLayer(tiny, W, 0, -1, 1, 1, out, 3, EPI_TANH);
    expect(Array.from(out)).toEqual(Array.from(tiny));
  });

  it('backward layer = (G W) ⊙ act′(A) with W read in its stored [out × in] layout', () => {
    for (const [B, O, I] of shapes) {
      for (const mode of [EPI_NONE, EPI_DTANH, EPI_DRELU]) {
        const G = rand(B * O);
        const mOff = 2;
        const W = rand(mOff + O * I);
        const A = rand(B * I);
        const out = new Float32Array(B * I);
        wasmBackwardLayer(G, W, mOff, O, I, out, B, mode, A);
        for (let i = 0; i < B; i++) {
          for (let k = 0; k < I; k++) {
            let s = 0;
            let mag = 0;
            for (let o = 0; o < O; o++) {
              s += G[i * O + o] * W[mOff + o * I + k];
              mag += Math.abs(G[i * O + o] * W[mOff + o * I + k]);
            }
            expect(Math.abs(out[i * I + k] - act(mode, s, A[i * I + k]))).toBeLessThanOrEqual(1e-6 * (1 + mag));
          }
        }
      }
    }
  });

  it('weighted outer sum = the TS kernel, flat and per-tensor weights, accumulating into out', () => {
    for (const [B, K, O] of shapes) {
      const A = rand(B * K);
      const G = rand(B * O);
      const w = Float64Array.from({ length: B }, () => rng());
      const T = 4;
      const t = 2;
      const pt = Float64Array.from({ length: B * T }, () => rng());
      for (const perTensor of [undefined, pt]) {
        const size = 3 + O * K + O;
        const start = Float64Array.from({ length: size }, () => rng());
        const ref = Float64Array.from(start);
        const got = Float64Array.from(start);
        weightedOuterSum(A, G, K, O, B, w, perTensor, T, t, ref, 3, 3 + O * K);
        wasmWeightedOuterSum(A, G, K, O, B, w, perTensor, T, t, got, 3, 3 + O * K);
        for (let j = 0; j < size; j++) expect(Math.abs(got[j] - ref[j])).toBeLessThanOrEqual(1e-6 * (1 + B));
      }
    }
  });

  it('MlpGradientSource on the SIMD kernels agrees with the TS kernels (16-128-128-1, batch 67, tanh and relu)', () => {
    for (const activation of ['tanh', 'relu'] as const) {
      const r = seededRng(5);
      const model = new Mlp({ layerSizes: [16, 128, 128, 1], activation });
      initializeParams(model.layout, model.params, r);
      const n = 200;
      const X = Float32Array.from({ length: n * 16 }, () => gaussian(r));
      const y = Float32Array.from({ length: n }, () => gaussian(r));
      const idx = Int32Array.from({ length: 67 }, (_, i) => (i * 7) % n);
      const results = (['ts', 'wasm'] as const).map((kernels) => {
        const src = new MlpGradientSource(model, X, y, { kernels });
        const norms = new Float64Array(67);
        const perTensor = new Float64Array(67 * 6);
        src.perSampleNorms(idx, norms, perTensor);
        const factors = norms.map((v) => Math.min(1, 1 / (v + 1e-6)));
        const grad = new Float64Array(src.paramCount);
        src.addWeightedGradientSum(factors, grad);
        return { norms, perTensor, grad };
      });
      const [ts, simd] = results;
      // A norm is proportional to the residual pred − y, which cancels when pred ≈ y, so the norms
      // agree relative to the batch's scale, not each one's own (the float32 output differs by rounding).
      const scale = Math.max(...ts.norms);
      for (let i = 0; i < 67; i++) expect(Math.abs(simd.norms[i] - ts.norms[i])).toBeLessThanOrEqual(1e-5 * scale);
      const ptScale = Math.max(...ts.perTensor);
      for (let j = 0; j < 67 * 6; j++) expect(Math.abs(simd.perTensor[j] - ts.perTensor[j])).toBeLessThanOrEqual(1e-5 * ptScale);
      let diff = 0;
      let norm = 0;
      for (let p = 0; p < ts.grad.length; p++) {
        diff += (simd.grad[p] - ts.grad[p]) ** 2;
        norm += ts.grad[p] ** 2;
      }
      expect(Math.sqrt(diff / norm)).toBeLessThanOrEqual(1e-5);
    }
  });

  it('setWasmKernels(false) routes float32 work back to the TS kernels', () => {
    const prev = setWasmKernels(false);
    try {
      expect(wasmKernelsActive()).toBe(false);
    } finally {
      setWasmKernels(prev);
    }
  });
});
