/**
 * Compression of a model delta Δθ = θ_local − θ_global (the shared body, flat, in models/layout.ts
 * order) for the trip gateway → aggregator.
 *
 * - int8 stochastic rounding with one scale per tensor: s = max|x| / 127, q = ⌊x/s + u⌋ with
 *   u ~ U[0, 1), so P(q = ⌊x/s⌋ + 1) = frac(x/s) and E[q·s] = x: the quantizer is unbiased, and
 *   |x − q·s| < s. This is QSGD's stochastic quantizer with s = 127 levels and the max-norm instead of
 *   the 2-norm (Alistarh et al. 2017, "QSGD", NeurIPS) and the stochastic k-level rounding of
 *   Suresh et al. 2017 ("Distributed mean estimation with limited communication", ICML), k = 255
 *   levels over [−max, max].
 * - optional top-k sparsification (per tensor or over the whole body), keeping indices and int8
 *   values. Top-k is biased, so the caller carries the dropped mass forward with error feedback:
 *   e_{t+1} = (Δ_t + e_t) − C(Δ_t + e_t) (Stich et al. 2018, "Sparsified SGD with memory", NeurIPS;
 *   Karimireddy et al. 2019, "Error feedback fixes SignSGD and other gradient compression schemes",
 *   ICML). `compressWithErrorFeedback` is a pure function that returns the new residual.
 *
 * Privacy: the delta is already DP-SGD output, so everything here is post-processing (Dwork & Roth
 * 2014, Prop. 2.1) and costs no privacy, whatever randomness it uses. That is why the rounding
 * source is an injected `() => number` that need not be cryptographically secure (tests seed it).
 * The error-feedback residual must be computed from the *noised* delta only, which
 * `compressWithErrorFeedback` does by construction: it never sees anything else.
 */
import { formatShapes, tensorSizes, type TensorShape } from './shapes.ts';
import { selectInPlace } from './select.ts';

/** Uniform in [0, 1). Need not be secure (post-processing of DP output; see the module comment). */
export type UniformSource = () => number;

export type UpdateEncoding = 'float32' | 'int8-dense' | 'int8-topk';
export const UPDATE_ENCODINGS: readonly UpdateEncoding[] = ['float32', 'int8-dense', 'int8-topk'];

/** Largest int8 level used: symmetric, so −128 never occurs and negation is exact. */
export const INT8_LEVELS = 127;

export interface Float32Update {
  readonly encoding: 'float32';
  readonly shapes: readonly TensorShape[];
  readonly values: Float32Array;
}

export interface Int8DenseUpdate {
  readonly encoding: 'int8-dense';
  readonly shapes: readonly TensorShape[];
  /** One per tensor; value i of tensor t decodes to q[i] · scales[t]. */
  readonly scales: Float32Array;
  /** Every element, tensors concatenated. */
  readonly q: Int8Array;
}

export interface Int8TopKUpdate {
  readonly encoding: 'int8-topk';
  readonly shapes: readonly TensorShape[];
  /** One per tensor, the max |x| of the kept values over 127. */
  readonly scales: Float32Array;
  /** How many kept entries belong to each tensor. */
  readonly counts: Uint32Array;
  /** Index within its tensor, strictly increasing within each tensor; tensors in order. */
  readonly indices: Uint32Array;
  readonly q: Int8Array;
}

export type CompressedUpdate = Float32Update | Int8DenseUpdate | Int8TopKUpdate;

export interface TopKOptions {
  /** 'per-tensor': keep k (or density·size) of each tensor; 'global': of the whole body. */
  readonly scope: 'per-tensor' | 'global';
  /** Entries kept (per tensor or in total). Give exactly one of k and density. */
  readonly k?: number;
  /** Fraction kept, in (0, 1]; rounded up, so every non-empty scope keeps at least one entry. */
  readonly density?: number;
}

export interface CompressOptions {
  readonly encoding: UpdateEncoding;
  /** Rounding randomness; required for the int8 encodings. */
  readonly random?: UniformSource;
  /** Required for 'int8-topk', refused otherwise. */
  readonly topK?: TopKOptions;
}

/**
 * The per-tensor scale: the smallest float32 s with 127·s ≥ maxAbs. Rounding max/127 to float32
 * could land just below it and let |x|/s exceed 127; taking the next float32 up keeps every level in
 * [−127, 127] without clamping, which would bias the edge values.
 */
export function int8Scale(maxAbs: number): number {
  if (!(maxAbs >= 0) || !Number.isFinite(maxAbs)) throw new RangeError(`int8Scale: maxAbs must be finite and ≥ 0 (got ${maxAbs})`);
  let s = Math.fround(maxAbs / INT8_LEVELS);
  if (s * INT8_LEVELS < maxAbs) s = nextFloat32Up(s);
  return s;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function nextFloat32Up(x: number): number {
  f32[0] = x; // x ≥ 0 here, so the next float up is the next bit pattern
  u32[0] += 1;
  return f32[0];
}

/**
 * Unbiased stochastic rounding of `values[from, to)` to int8 levels of `scale` (written to
 * `out[outFrom...]`). With scale 0 (all values 0) every level is 0.
 */
export function quantizeInt8Stochastic(
  values: Float32Array,
  scale: number,
  random: UniformSource,
  out: Int8Array = new Int8Array(values.length),
  from = 0,
  to = values.length,
  outFrom = 0,
): Int8Array {
  if (!(scale >= 0) || !Number.isFinite(scale)) throw new RangeError(`quantize: scale must be finite and ≥ 0 (got ${scale})`);
  if (scale === 0) {
    out.fill(0, outFrom, outFrom + (to - from));
    return out;
  }
  for (let i = from, o = outFrom; i < to; i++, o++) {
    const u = random();
    if (!(u >= 0 && u < 1)) throw new RangeError(`quantize: the uniform source returned ${u}, outside [0, 1)`);
    let q = Math.floor(values[i] / scale + u);
    // Only reachable when x/s is exactly ±127 and u rounds the sum up to 128: a 2^-46 event.
    if (q > INT8_LEVELS) q = INT8_LEVELS;
    else if (q < -INT8_LEVELS) q = -INT8_LEVELS;
    out[o] = q;
  }
  return out;
}

/**
 * Indices (ascending, relative to `from`) of the k largest |values[from, to)|. Ties at the threshold
 * go to the lower index, so the choice is deterministic.
 */
export function topKIndices(values: Float32Array, k: number, from = 0, to = values.length): Uint32Array {
  const n = to - from;
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`top-k: k must be a non-negative integer (got ${k})`);
  if (k >= n) return Uint32Array.from({ length: n }, (_, i) => i);
  const out = new Uint32Array(k);
  if (k === 0) return out;
  const mags = new Float32Array(n);
  for (let i = 0; i < n; i++) mags[i] = Math.abs(values[from + i]);
  const threshold = selectInPlace(mags, n - k);
  let above = 0;
  for (let i = 0; i < n; i++) if (Math.abs(values[from + i]) > threshold) above++;
  let atThreshold = k - above;
  let w = 0;
  for (let i = 0; i < n; i++) {
    const m = Math.abs(values[from + i]);
    if (m > threshold || (m === threshold && atThreshold-- > 0)) out[w++] = i;
  }
  return out;
}

/** Compresses a delta. Throws a RangeError naming the problem for bad input (non-finite values included). */
export function compressUpdate(delta: Float32Array, shapes: readonly TensorShape[], opts: CompressOptions): CompressedUpdate {
  const sizes = tensorSizes(shapes);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (!(delta instanceof Float32Array)) throw new TypeError('compress: delta must be a Float32Array');
  if (delta.length !== total) throw new RangeError(`compress: delta has ${delta.length} values but shapes ${formatShapes(shapes)} need ${total}`);
  for (let i = 0; i < delta.length; i++) {
    if (!Number.isFinite(delta[i])) throw new RangeError(`compress: delta[${i}] is ${delta[i]}; only finite values can be sent`);
  }
  const ownShapes = shapes.map((s) => [...s]);
  if (opts.topK !== undefined && opts.encoding !== 'int8-topk') throw new RangeError(`compress: topK only applies to the int8-topk encoding (got ${opts.encoding})`);
  switch (opts.encoding) {
    case 'float32':
      return { encoding: 'float32', shapes: ownShapes, values: delta.slice() };
    case 'int8-dense': {
      const random = requireRandom(opts);
      const scales = new Float32Array(sizes.length);
      const q = new Int8Array(total);
      let off = 0;
      sizes.forEach((n, t) => {
        scales[t] = int8Scale(maxAbs(delta, off, off + n));
        quantizeInt8Stochastic(delta, scales[t], random, q, off, off + n, off);
        off += n;
      });
      return { encoding: 'int8-dense', shapes: ownShapes, scales, q };
    }
    case 'int8-topk': {
      const random = requireRandom(opts);
      if (opts.topK === undefined) throw new RangeError('compress: the int8-topk encoding needs topK options');
      const perTensor = selectTopK(delta, sizes, opts.topK);
      const kept = perTensor.reduce((a, ix) => a + ix.length, 0);
      const scales = new Float32Array(sizes.length);
      const counts = new Uint32Array(sizes.length);
      const indices = new Uint32Array(kept);
      const q = new Int8Array(kept);
      const gathered = new Float32Array(kept);
      let off = 0;
      let w = 0;
      sizes.forEach((n, t) => {
        const ix = perTensor[t];
        counts[t] = ix.length;
        indices.set(ix, w);
        for (let j = 0; j < ix.length; j++) gathered[w + j] = delta[off + ix[j]];
        scales[t] = int8Scale(maxAbs(gathered, w, w + ix.length));
        quantizeInt8Stochastic(gathered, scales[t], random, q, w, w + ix.length, w);
        w += ix.length;
        off += n;
      });
      return { encoding: 'int8-topk', shapes: ownShapes, scales, counts, indices, q };
    }
    default:
      throw new RangeError(`compress: unknown encoding ${String((opts as { encoding: unknown }).encoding)} (expected ${UPDATE_ENCODINGS.join(', ')})`);
  }
}

/** Decodes back to a flat Float32Array (dropped top-k entries are 0). Checks internal consistency. */
export function decompressUpdate(update: CompressedUpdate): Float32Array {
  const sizes = tensorSizes(update.shapes);
  const total = sizes.reduce((a, b) => a + b, 0);
  const out = new Float32Array(total);
  switch (update.encoding) {
    case 'float32':
      if (update.values.length !== total) throw new RangeError(`decompress: ${update.values.length} float32 values for shapes needing ${total}`);
      out.set(update.values);
      return out;
    case 'int8-dense': {
      checkScales(update.scales, sizes.length);
      if (update.q.length !== total) throw new RangeError(`decompress: ${update.q.length} int8 values for shapes needing ${total}`);
      let off = 0;
      sizes.forEach((n, t) => {
        const s = update.scales[t];
        for (let i = off; i < off + n; i++) out[i] = update.q[i] * s;
        off += n;
      });
      return out;
    }
    case 'int8-topk': {
      checkScales(update.scales, sizes.length);
      const { counts, indices, q } = update;
      if (counts.length !== sizes.length) throw new RangeError(`decompress: ${counts.length} top-k counts for ${sizes.length} tensors`);
      const kept = counts.reduce((a, b) => a + b, 0);
      if (indices.length !== kept || q.length !== kept) throw new RangeError(`decompress: counts say ${kept} kept entries but there are ${indices.length} indices and ${q.length} values`);
      let off = 0;
      let r = 0;
      sizes.forEach((n, t) => {
        const s = update.scales[t];
        let prev = -1;
        for (let j = 0; j < counts[t]; j++, r++) {
          const ix = indices[r];
          if (ix >= n || ix <= prev) throw new RangeError(`decompress: tensor ${t} index ${ix} is out of range [0, ${n}) or not increasing`);
          prev = ix;
          out[off + ix] = q[r] * s;
        }
        off += n;
      });
      return out;
    }
    default:
      throw new RangeError(`decompress: unknown encoding ${String((update as { encoding: unknown }).encoding)}`);
  }
}

export interface ErrorFeedbackResult {
  readonly update: CompressedUpdate;
  /** decompressUpdate(update), returned because the caller usually wants it (and it was computed). */
  readonly decoded: Float32Array;
  /** (delta + residual) − decoded: what to add to the next round's delta. */
  readonly residual: Float32Array;
}

/**
 * Error-feedback compression (EF-SGD): compresses delta + residual and returns the part that did not
 * make it. Over rounds, Σ decoded_t + residual_T = Σ delta_t (up to float32 rounding), so nothing is
 * lost, only delayed. Pass a zero residual in the first round; the inputs are not modified.
 */
export function compressWithErrorFeedback(delta: Float32Array, shapes: readonly TensorShape[], residual: Float32Array, opts: CompressOptions): ErrorFeedbackResult {
  if (!(residual instanceof Float32Array) || residual.length !== delta.length) {
    throw new RangeError(`error feedback: residual must be a Float32Array of ${delta.length} values (got ${residual?.length})`);
  }
  const corrected = new Float32Array(delta.length);
  for (let i = 0; i < delta.length; i++) {
    corrected[i] = delta[i] + residual[i];
    if (!Number.isFinite(corrected[i])) throw new RangeError(`error feedback: delta[${i}] + residual[${i}] is ${corrected[i]}`);
  }
  const update = compressUpdate(corrected, shapes, opts);
  const decoded = decompressUpdate(update);
  const next = new Float32Array(delta.length);
  for (let i = 0; i < delta.length; i++) next[i] = corrected[i] - decoded[i];
  return { update, decoded, residual: next };
}

function selectTopK(delta: Float32Array, sizes: readonly number[], opts: TopKOptions): Uint32Array[] {
  const keep = (n: number): number => {
    if ((opts.k === undefined) === (opts.density === undefined)) throw new RangeError('top-k: give exactly one of k and density');
    if (opts.k !== undefined) {
      if (!Number.isInteger(opts.k) || opts.k < 1) throw new RangeError(`top-k: k must be a positive integer (got ${opts.k})`);
      return Math.min(opts.k, n);
    }
    const d = opts.density as number;
    if (!(d > 0 && d <= 1)) throw new RangeError(`top-k: density must be in (0, 1] (got ${d})`);
    return Math.min(n, Math.ceil(d * n));
  };
  if (opts.scope === 'per-tensor') {
    let off = 0;
    return sizes.map((n) => {
      const ix = topKIndices(delta, keep(n), off, off + n);
      off += n;
      return ix;
    });
  }
  if (opts.scope !== 'global') throw new RangeError(`top-k: scope must be 'per-tensor' or 'global' (got ${String(opts.scope)})`);
  const all = topKIndices(delta, keep(delta.length));
  const out: Uint32Array[] = [];
  let off = 0;
  let r = 0;
  for (const n of sizes) {
    const start = r;
    while (r < all.length && all[r] < off + n) r++;
    const ix = all.slice(start, r);
    for (let j = 0; j < ix.length; j++) ix[j] -= off;
    out.push(ix);
    off += n;
  }
  return out;
}

function requireRandom(opts: CompressOptions): UniformSource {
  if (typeof opts.random !== 'function') throw new RangeError(`compress: the ${opts.encoding} encoding needs a uniform random source (opts.random)`);
  return opts.random;
}

function maxAbs(x: Float32Array, from: number, to: number): number {
  let m = 0;
  for (let i = from; i < to; i++) {
    const a = Math.abs(x[i]);
    if (a > m) m = a;
  }
  return m;
}

function checkScales(scales: Float32Array, tensors: number): void {
  if (scales.length !== tensors) throw new RangeError(`decompress: ${scales.length} scales for ${tensors} tensors`);
}
