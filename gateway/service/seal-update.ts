/**
 * The compression path of one trained round's body update, from the DP-SGD delta to the signed
 * envelope bytes that go into the outbox. Pure apart from the injected rounding source.
 *
 * - Encoding: the first of the gateway's preferences that the round allows and whose envelope fits
 *   the round's maxBytes.
 * - Norm bound: the round's normBound is enforced on what the aggregator will decode. The input is
 *   clipped to the bound, and if int8 rounding noise still pushes the decoded norm over it, the
 *   per-tensor scales are shrunk. Both are post-processing of DP output: no privacy cost. Below the
 *   bound nothing is scaled, so int8-dense stays an unbiased estimate of the delta.
 * - Error feedback (int8-topk only, where it is needed: top-k is biased): the residual carried in is
 *   added before compressing and the part that did not make it comes back out; the caller keeps it
 *   on disk. int8-dense is unbiased by itself, so it sends delta + residual and returns a zero
 *   residual (a residual left from earlier top-k rounds is flushed, not lost).
 */
import {
  compressUpdate,
  decompressUpdate,
  encodeEnvelope,
  totalSize,
  type CompressedUpdate,
  type SigningKey,
  type TensorShape,
  type UniformSource,
  type UpdateEncoding,
} from '../../federation/index.ts';

export interface UpdatePreferences {
  /** In order of preference. */
  encodings: readonly UpdateEncoding[];
  topK: { density: number; scope: 'global' | 'per-tensor' };
}

/** What the round announcement says about updates (federation's RoundAnnouncement.update). */
export interface RoundUpdateRules {
  encodings: readonly UpdateEncoding[];
  normBound: number;
  maxBytes: number;
  /** Overrides the gateway's own top-k density when given. */
  topKDensity?: number;
}

export interface SealInput {
  delta: Float32Array;
  shapes: readonly TensorShape[];
  /** Error-feedback residual from earlier rounds (zeros the first time). */
  residual: Float32Array;
  preferences: UpdatePreferences;
  rules: RoundUpdateRules;
  modelVersion: string;
  roundId: number;
  /** The MQTT username: the envelope's client id must be the identity that publishes it. */
  clientId: string;
  timestampMs: number;
  key: SigningKey;
  random: UniformSource;
}

export interface SealedUpdate {
  envelope: Uint8Array;
  encoding: UpdateEncoding;
  /** What the aggregator will decode. */
  decoded: Float32Array;
  /** The residual to keep for the next round. */
  residual: Float32Array;
  /** L2 norm of `decoded`. */
  norm: number;
  /** True when the input or the decoded update had to be scaled down to the norm bound. */
  clipped: boolean;
  /** Size of the same update as a dense float32 envelope, and envelope bytes of that over these. */
  float32Bytes: number;
  compressionRatio: number;
}

export type SealResult = { ok: true; update: SealedUpdate } | { ok: false; reason: 'no-common-encoding' | 'too-large'; detail: string };

function l2(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

/** Bytes of the envelope payload for a compressed update (envelope-format.md, "Payloads"). */
export function payloadBytes(u: CompressedUpdate): number {
  const T = u.shapes.length;
  switch (u.encoding) {
    case 'float32':
      return 4 * u.values.length;
    case 'int8-dense':
      return 4 * T + u.q.length;
    case 'int8-topk': {
      let idx = 0;
      u.shapes.forEach((s, t) => {
        const n = s.reduce((a, b) => a * b, 1);
        idx += u.counts[t] * (n <= 0x10000 ? 2 : 4);
      });
      return 8 * T + idx + u.q.length;
    }
  }
}

/** Scales the update down so its decoded norm is at most `bound` (only ever shrinks). */
function shrinkToBound(u: CompressedUpdate, bound: number): { update: CompressedUpdate; decoded: Float32Array; shrunk: boolean } {
  let decoded = decompressUpdate(u);
  let norm = l2(decoded);
  let shrunk = false;
  // float32 rounding of the new scale can land a hair above; a few passes always converge.
  for (let pass = 0; norm > bound && pass < 8; pass++) {
    const c = (bound / norm) * (1 - 1e-6);
    if (u.encoding === 'float32') for (let i = 0; i < u.values.length; i++) u.values[i] = Math.fround(u.values[i] * c);
    else for (let t = 0; t < u.scales.length; t++) u.scales[t] = Math.fround(u.scales[t] * c);
    decoded = decompressUpdate(u);
    norm = l2(decoded);
    shrunk = true;
  }
  return { update: u, decoded, shrunk };
}

export function sealUpdate(input: SealInput): SealResult {
  const { delta, shapes, residual, preferences, rules } = input;
  const n = totalSize(shapes);
  if (delta.length !== n || residual.length !== n) throw new RangeError(`sealUpdate: delta (${delta.length}) and residual (${residual.length}) must both have the body's ${n} values`);
  const candidates = preferences.encodings.filter((e) => rules.encodings.includes(e));
  if (candidates.length === 0) {
    return { ok: false, reason: 'no-common-encoding', detail: `the round allows ${rules.encodings.join(', ')}; this gateway is configured for ${preferences.encodings.join(', ')}` };
  }
  const sizes: string[] = [];
  for (const encoding of candidates) {
    const corrected = new Float32Array(n);
    for (let i = 0; i < n; i++) corrected[i] = delta[i] + residual[i];
    const norm0 = l2(corrected);
    let clipped = false;
    if (norm0 > rules.normBound) {
      const c = rules.normBound / norm0;
      for (let i = 0; i < n; i++) corrected[i] = Math.fround(corrected[i] * c);
      clipped = true;
    }
    const compressed = compressUpdate(corrected, shapes, {
      encoding,
      random: encoding === 'float32' ? undefined : input.random,
      topK: encoding === 'int8-topk' ? { scope: preferences.topK.scope, density: rules.topKDensity ?? preferences.topK.density } : undefined,
    });
    const { update, decoded, shrunk } = shrinkToBound(compressed, rules.normBound);
    const envelope = encodeEnvelope({ modelVersion: input.modelVersion, roundId: input.roundId, clientId: input.clientId, timestampMs: input.timestampMs, update }, input.key);
    if (envelope.length > rules.maxBytes) {
      sizes.push(`${encoding} ${envelope.length} bytes`);
      continue;
    }
    const next = new Float32Array(n);
    if (encoding === 'int8-topk') for (let i = 0; i < n; i++) next[i] = corrected[i] - decoded[i];
    const float32Bytes = envelope.length - payloadBytes(update) + 4 * n;
    return {
      ok: true,
      update: { envelope, encoding, decoded, residual: next, norm: l2(decoded), clipped: clipped || shrunk, float32Bytes, compressionRatio: float32Bytes / envelope.length },
    };
  }
  return { ok: false, reason: 'too-large', detail: `no allowed encoding fits the round's ${rules.maxBytes}-byte limit (${sizes.join(', ')})` };
}
