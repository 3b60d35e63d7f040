/**
 * WebAssembly SIMD versions of the float32 kernels in kernels.ts (source: wasm/kernels.c, bytes:
 * wasm/kernels-wasm.ts). forwardBatch, backwardBatch and addWeightedGradientSum use them for float32
 * storage when they are enabled and the runtime validates the module (WebAssembly SIMD: Node ≥ 16.4);
 * float64 storage (finite-difference checks, the float64 reference vectors) always takes the TS path.
 *
 * The module owns one linear memory used as a scratch arena: each call copies its operands in and
 * its result out. The copies are O(batch·(in+out) + in·out) against O(batch·in·out) multiply-adds,
 * and they keep the callers' arrays ordinary JS typed arrays (no views that a memory.grow detaches).
 */
import { KERNELS_WASM_BASE64 } from './wasm/kernels-wasm.ts';

interface Kernels {
  memory: WebAssembly.Memory;
  heapBase: number;
  gemm: (M: number, N: number, K: number, L: number, lsi: number, lsk: number, R: number, bias: number, Y: number, mode: number, D: number) => void;
  transpose: (S: number, rows: number, cols: number, T: number) => void;
}

let kernels: Kernels | null | undefined;
let enabled = true;
let f32 = new Float32Array(0);

function load(): Kernels | null {
  if (kernels !== undefined) return kernels;
  try {
    const bytes = Buffer.from(KERNELS_WASM_BASE64, 'base64');
    const memory = new WebAssembly.Memory({ initial: 4 });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    const ex = instance.exports as unknown as { gemm: Kernels['gemm']; transpose: Kernels['transpose']; __heap_base: WebAssembly.Global };
    kernels = { memory, heapBase: align(Number(ex.__heap_base.value)), gemm: ex.gemm, transpose: ex.transpose };
    f32 = new Float32Array(memory.buffer);
  } catch {
    // No WebAssembly SIMD here: the TS kernels do the work.
    kernels = null;
  }
  return kernels;
}

/** Byte offsets 16-aligned, so every row block starts on a v128 boundary when its width allows. */
function align(bytes: number): number {
  return (bytes + 15) & ~15;
}

/** Ensures the arena holds `bytes` bytes after the heap base; refreshes the view after a grow. */
function reserve(k: Kernels, bytes: number): void {
  const need = k.heapBase + bytes;
  const have = k.memory.buffer.byteLength;
  if (need > have) k.memory.grow(Math.ceil((need - have) / 65536));
  if (f32.buffer !== k.memory.buffer) f32 = new Float32Array(k.memory.buffer);
}

/** True when the float32 paths will use the WebAssembly kernels. */
export function wasmKernelsActive(): boolean {
  return enabled && load() !== null;
}

/** True when the WebAssembly SIMD module compiles and instantiates on this runtime. */
export function wasmKernelsAvailable(): boolean {
  return load() !== null;
}

/** Turns the WebAssembly kernels on or off (for comparisons and tests); returns the previous setting. */
export function setWasmKernels(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

/** Y[i, n] = epi(b[n] + Σ_k X[i, k] W[n, k]): kernels.ts gemmNT for float32 with W [N × K] at mOff. */
export function wasmForwardLayer(
  X: Float32Array, W: Float32Array, mOff: number, bOff: number, K: number, N: number,
  Y: Float32Array, batch: number, mode: number,
): void {
  const k = load()!;
  const xB = k.heapBase;
  const wB = xB + align(4 * batch * K);
  const tB = wB + align(4 * N * K);
  const bB = tB + align(4 * N * K);
  const yB = bB + align(4 * N);
  reserve(k, yB - k.heapBase + 4 * batch * N);
  f32.set(X.subarray(0, batch * K), xB >> 2);
  f32.set(W.subarray(mOff, mOff + N * K), wB >> 2);
  k.transpose(wB, N, K, tB);
  if (bOff >= 0) f32.set(W.subarray(bOff, bOff + N), bB >> 2);
  k.gemm(batch, N, K, xB, K, 1, tB, bOff >= 0 ? bB : 0, yB, mode, 0);
  Y.set(f32.subarray(yB >> 2, (yB >> 2) + batch * N));
}

/**
 * Gprev[i, k] = (Σ_o G[i, o] W[o, k]) · act'(Aprev[i, k]) with W [out × in] at mOff: the backward
 * product, reading W in its stored layout (no transpose needed here).
 */
export function wasmBackwardLayer(
  G: Float32Array, W: Float32Array, mOff: number, outSize: number, inSize: number,
  Gprev: Float32Array, batch: number, mode: number, Aprev: Float32Array,
): void {
  const k = load()!;
  const gB = k.heapBase;
  const wB = gB + align(4 * batch * outSize);
  const dB = wB + align(4 * outSize * inSize);
  const yB = dB + align(4 * batch * inSize);
  reserve(k, yB - k.heapBase + 4 * batch * inSize);
  f32.set(G.subarray(0, batch * outSize), gB >> 2);
  f32.set(W.subarray(mOff, mOff + outSize * inSize), wB >> 2);
  f32.set(Aprev.subarray(0, batch * inSize), dB >> 2);
  k.gemm(batch, inSize, outSize, gB, outSize, 1, wB, 0, yB, mode, dB);
  Gprev.set(f32.subarray(yB >> 2, (yB >> 2) + batch * inSize));
}

/**
 * kernels.ts weightedOuterSum for float32 A and G: out[wBase + o·K + k] += Σ_i ww_i G[i, o] A[i, k]
 * and out[bBase + o] += Σ_i wb_i G[i, o]. The weight part is the product (diag(w) G)ᵀ A, a GEMM
 * whose left operand is read transposed through strides; the bias part (O·batch work) stays in
 * float64 JS.
 */
export function wasmWeightedOuterSum(
  A: Float32Array, G: Float32Array, K: number, O: number, batch: number,
  weights: Float64Array, perTensor: Float64Array | undefined, T: number, t: number,
  out: Float64Array, wBase: number, bBase: number,
): void {
  const k = load()!;
  const gB = k.heapBase;
  const aB = gB + align(4 * batch * O);
  const sB = aB + align(4 * batch * K);
  reserve(k, sB - k.heapBase + 4 * O * K);
  const g = gB >> 2;
  for (let i = 0; i < batch; i++) {
    const ww = perTensor ? perTensor[i * T + t] : weights[i];
    const wb = perTensor ? perTensor[i * T + t + 1] : ww;
    const row = i * O;
    for (let o = 0; o < O; o++) {
      const d = G[row + o];
      f32[g + row + o] = ww * d;
      out[bBase + o] += wb * d;
    }
  }
  f32.set(A.subarray(0, batch * K), aB >> 2);
  k.gemm(O, K, batch, gB, 1, O, aB, 0, sB, 0, 0);
  const s = sB >> 2;
  for (let j = 0, e = O * K; j < e; j++) out[wBase + j] += f32[s + j];
}
