/**
 * The update envelope: a versioned, signed binary container for one compressed delta
 * (layout in federation/envelope-format.md). Hand-rolled with DataView rather than protobuf because
 * the aggregator must reject hostile bytes with a precise reason before allocating anything the
 * bytes ask for: every read is bounds-checked, every length is checked against the declared shapes
 * and limits first, and a signature must cover exactly the bytes that were parsed. protobufjs 6
 * would accept unknown fields, repeated fields and any field order (several byte strings per message,
 * none canonical), which is the opposite of "one accepted encoding per update"; and the payload is
 * three flat arrays that protobuf would only wrap as bytes anyway.
 *
 * encodeEnvelope and decodeEnvelope are pure; decodeEnvelope never verifies the signature (the
 * client's key is only known after the client id is parsed): use openEnvelope or
 * verifyEnvelopeSignature.
 */
import { UPDATE_ENCODINGS, type CompressedUpdate, type UpdateEncoding } from './compression.ts';
import { SIGNATURE_BYTES, signEnvelopeBytes, verifyEnvelopeBytes, type SigningKey } from './signing.ts';
import type { TensorShape } from './shapes.ts';

/** "FWUP": fedwear update. */
export const ENVELOPE_MAGIC = Uint8Array.of(0x46, 0x57, 0x55, 0x50);
export const ENVELOPE_VERSION = 1;
/** Byte values of the encodings; 0 is never valid so a zeroed buffer does not decode. */
export const ENCODING_CODES: Readonly<Record<UpdateEncoding, number>> = { float32: 1, 'int8-dense': 2, 'int8-topk': 3 };
const ENCODING_BY_CODE = new Map<number, UpdateEncoding>(UPDATE_ENCODINGS.map((e) => [ENCODING_CODES[e], e]));

export const MAX_STRING_BYTES = 128;
export const MAX_RANK = 8;

export interface EnvelopeLimits {
  /** Whole envelope, signature included. Default 4 MiB. */
  readonly maxBytes?: number;
  /** Elements over all tensors. Default 2^24. */
  readonly maxElements?: number;
  /** Default 256. */
  readonly maxTensors?: number;
}
export const DEFAULT_ENVELOPE_LIMITS: Required<EnvelopeLimits> = { maxBytes: 4 * 1024 * 1024, maxElements: 1 << 24, maxTensors: 256 };

export type EnvelopeErrorCode =
  | 'bad-input'
  | 'oversize'
  | 'truncated'
  | 'bad-magic'
  | 'unsupported-version'
  | 'bad-encoding'
  | 'bad-flags'
  | 'bad-timestamp'
  | 'bad-string'
  | 'bad-round'
  | 'bad-shape'
  | 'shape-mismatch'
  | 'bad-index'
  | 'trailing-bytes'
  | 'bad-signature';

export const ENVELOPE_ERROR_CODES: readonly EnvelopeErrorCode[] = [
  'bad-input',
  'oversize',
  'truncated',
  'bad-magic',
  'unsupported-version',
  'bad-encoding',
  'bad-flags',
  'bad-timestamp',
  'bad-string',
  'bad-round',
  'bad-shape',
  'shape-mismatch',
  'bad-index',
  'trailing-bytes',
  'bad-signature',
];

export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
  constructor(
    readonly code: EnvelopeErrorCode,
    message: string,
    /** Byte offset where the problem was found, when there is one. */
    readonly offset?: number,
  ) {
    super(`update envelope: ${code}: ${message}${offset === undefined ? '' : ` (at byte ${offset})`}`);
  }
}

export interface UpdateEnvelopeFields {
  readonly modelVersion: string;
  readonly roundId: number;
  readonly clientId: string;
  /** Milliseconds since the Unix epoch, when the gateway sealed the update. */
  readonly timestampMs: number;
  readonly update: CompressedUpdate;
}

export interface DecodedEnvelope extends UpdateEnvelopeFields {
  readonly envelopeVersion: number;
  /** The bytes the signature covers (after the signing context): a view into the input. */
  readonly signedBytes: Uint8Array;
  /** A view into the input. */
  readonly signature: Uint8Array;
  readonly byteLength: number;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Encodes and signs. Throws EnvelopeError (with the same codes decode uses) for fields it cannot carry. */
export function encodeEnvelope(fields: UpdateEnvelopeFields, privateKey: SigningKey): Uint8Array {
  const { update } = fields;
  const code = ENCODING_CODES[update?.encoding];
  if (code === undefined) throw new EnvelopeError('bad-encoding', `unknown encoding ${String(update?.encoding)}`);
  if (!Number.isInteger(fields.roundId) || fields.roundId < 0 || fields.roundId > 0xffffffff) {
    throw new EnvelopeError('bad-round', `roundId must be an integer in [0, 2^32) (got ${fields.roundId})`);
  }
  if (!Number.isSafeInteger(fields.timestampMs) || fields.timestampMs < 0) {
    throw new EnvelopeError('bad-timestamp', `timestampMs must be a non-negative safe integer (got ${fields.timestampMs})`);
  }
  const model = encodeString(fields.modelVersion, 'modelVersion');
  const client = encodeString(fields.clientId, 'clientId');
  const sizes = checkedSizes(update.shapes);
  const total = sizes.reduce((a, b) => a + b, 0);
  const T = sizes.length;

  let payloadBytes: number;
  switch (update.encoding) {
    case 'float32':
      if (update.values.length !== total) throw new EnvelopeError('shape-mismatch', `${update.values.length} float32 values for ${total} elements`);
      payloadBytes = 4 * total;
      break;
    case 'int8-dense':
      if (update.scales.length !== T || update.q.length !== total) {
        throw new EnvelopeError('shape-mismatch', `${update.scales.length} scales and ${update.q.length} values for ${T} tensors of ${total} elements`);
      }
      payloadBytes = 4 * T + total;
      break;
    case 'int8-topk': {
      if (update.scales.length !== T || update.counts.length !== T) throw new EnvelopeError('shape-mismatch', `${update.scales.length} scales and ${update.counts.length} counts for ${T} tensors`);
      const kept = update.counts.reduce((a, b) => a + b, 0);
      if (update.indices.length !== kept || update.q.length !== kept) {
        throw new EnvelopeError('shape-mismatch', `counts say ${kept} kept entries but there are ${update.indices.length} indices and ${update.q.length} values`);
      }
      checkTopKIndices(update.counts, update.indices, sizes, 0);
      payloadBytes = 8 * T + topKIndexBytes(update.counts, sizes) + kept;
      break;
    }
  }
  const shapeBytes = update.shapes.reduce((a, s) => a + 1 + 4 * s.length, 0);
  const signedLength = 20 + 1 + model.length + 1 + client.length + 2 + shapeBytes + 4 + payloadBytes;
  const out = new Uint8Array(signedLength + SIGNATURE_BYTES);
  const view = new DataView(out.buffer);
  out.set(ENVELOPE_MAGIC, 0);
  view.setUint8(4, ENVELOPE_VERSION);
  view.setUint8(5, code);
  view.setUint16(6, 0, true);
  view.setUint32(8, fields.roundId, true);
  view.setBigUint64(12, BigInt(fields.timestampMs), true);
  let at = 20;
  for (const s of [model, client]) {
    view.setUint8(at++, s.length);
    out.set(s, at);
    at += s.length;
  }
  view.setUint16(at, T, true);
  at += 2;
  for (const shape of update.shapes) {
    view.setUint8(at++, shape.length);
    for (const d of shape) {
      view.setUint32(at, d, true);
      at += 4;
    }
  }
  view.setUint32(at, payloadBytes, true);
  at += 4;
  switch (update.encoding) {
    case 'float32':
      at = writeFloat32s(out, view, at, update.values);
      break;
    case 'int8-dense':
      at = writeFloat32s(out, view, at, update.scales);
      at = writeInt8s(out, at, update.q);
      break;
    case 'int8-topk':
      at = writeFloat32s(out, view, at, update.scales);
      at = writeUint32s(out, view, at, update.counts);
      at = writeTopKIndices(view, at, update.counts, update.indices, sizes);
      at = writeInt8s(out, at, update.q);
      break;
  }
  if (at !== signedLength) throw new Error(`envelope encoder bug: wrote ${at} bytes, planned ${signedLength}`);
  out.set(signEnvelopeBytes(out.subarray(0, signedLength), privateKey), signedLength);
  return out;
}

/** Parses and bounds-checks without verifying the signature. Throws EnvelopeError only. */
export function decodeEnvelope(bytes: Uint8Array, limits: EnvelopeLimits = {}): DecodedEnvelope {
  if (!(bytes instanceof Uint8Array)) throw new EnvelopeError('bad-input', `expected a Uint8Array (got ${bytes === null ? 'null' : typeof bytes})`);
  const lim = { ...DEFAULT_ENVELOPE_LIMITS, ...limits };
  if (bytes.length > lim.maxBytes) throw new EnvelopeError('oversize', `${bytes.length} bytes exceeds the ${lim.maxBytes}-byte limit`);
  const r = new Reader(bytes);

  r.need(4, 'magic');
  for (let i = 0; i < 4; i++) if (bytes[i] !== ENVELOPE_MAGIC[i]) throw new EnvelopeError('bad-magic', `expected "FWUP", got ${hex(bytes.subarray(0, 4))}`, 0);
  r.at = 4;
  const version = r.u8('envelope version');
  if (version !== ENVELOPE_VERSION) throw new EnvelopeError('unsupported-version', `envelope version ${version} (this decoder reads ${ENVELOPE_VERSION})`, 4);
  const encodingCode = r.u8('encoding');
  const encoding = ENCODING_BY_CODE.get(encodingCode);
  if (encoding === undefined) throw new EnvelopeError('bad-encoding', `encoding byte ${encodingCode} (known: ${[...ENCODING_BY_CODE].map(([c, e]) => `${c}=${e}`).join(', ')})`, 5);
  const flags = r.u16('flags');
  if (flags !== 0) throw new EnvelopeError('bad-flags', `reserved flags 0x${flags.toString(16)} must be 0 in version ${ENVELOPE_VERSION}`, 6);
  const roundId = r.u32('round id');
  r.need(8, 'timestamp');
  const ts = r.view.getBigUint64(r.at, true);
  if (ts > BigInt(Number.MAX_SAFE_INTEGER)) throw new EnvelopeError('bad-timestamp', `timestamp ${ts} ms is beyond 2^53 − 1`, r.at);
  r.at += 8;
  const timestampMs = Number(ts);
  const modelVersion = r.string('model version');
  const clientId = r.string('client id');

  const tensorsAt = r.at;
  const T = r.u16('tensor count');
  if (T === 0 || T > lim.maxTensors) throw new EnvelopeError('bad-shape', `tensor count ${T} is outside [1, ${lim.maxTensors}]`, tensorsAt);
  const shapes: TensorShape[] = [];
  const sizes: number[] = [];
  let total = 0;
  for (let t = 0; t < T; t++) {
    const rankAt = r.at;
    const rank = r.u8(`tensor ${t} rank`);
    if (rank === 0 || rank > MAX_RANK) throw new EnvelopeError('bad-shape', `tensor ${t} has rank ${rank}, outside [1, ${MAX_RANK}]`, rankAt);
    const shape: number[] = [];
    let size = 1;
    for (let d = 0; d < rank; d++) {
      const dimAt = r.at;
      const dim = r.u32(`tensor ${t} dimension ${d}`);
      if (dim === 0) throw new EnvelopeError('bad-shape', `tensor ${t} dimension ${d} is 0`, dimAt);
      size *= dim;
      // Checked as we go, so no product can overflow before the check.
      if (total + size > lim.maxElements) throw new EnvelopeError('oversize', `shapes declare more than ${lim.maxElements} elements`, dimAt);
      shape.push(dim);
    }
    shapes.push(shape);
    sizes.push(size);
    total += size;
  }

  const payloadAt = r.at;
  const payloadBytes = r.u32('payload length');
  const start = r.at;
  let update: CompressedUpdate;
  switch (encoding) {
    case 'float32': {
      expectPayload(payloadBytes, 4 * total, `${total} float32 values`, payloadAt);
      r.need(payloadBytes, 'payload');
      update = { encoding, shapes, values: r.float32s(total) };
      break;
    }
    case 'int8-dense': {
      expectPayload(payloadBytes, 4 * T + total, `${T} scales and ${total} int8 values`, payloadAt);
      r.need(payloadBytes, 'payload');
      update = { encoding, shapes, scales: r.float32s(T), q: r.int8s(total) };
      break;
    }
    case 'int8-topk': {
      if (payloadBytes < 8 * T) throw new EnvelopeError('shape-mismatch', `payload of ${payloadBytes} bytes cannot hold ${T} scales and counts`, payloadAt);
      r.need(8 * T, 'top-k scales and counts');
      const scales = r.float32s(T);
      const countsAt = r.at;
      const counts = r.uint32s(T);
      let kept = 0;
      for (let t = 0; t < T; t++) {
        if (counts[t] > sizes[t]) throw new EnvelopeError('bad-index', `tensor ${t} keeps ${counts[t]} entries but has ${sizes[t]}`, countsAt + 4 * t);
        kept += counts[t];
      }
      const indexBytes = topKIndexBytes(counts, sizes);
      expectPayload(payloadBytes, 8 * T + indexBytes + kept, `${T} scales, ${T} counts and ${kept} index/value pairs`, payloadAt);
      r.need(indexBytes + kept, 'top-k indices and values');
      const indicesAt = r.at;
      const indices = r.topKIndices(counts, sizes, kept);
      checkTopKIndices(counts, indices, sizes, indicesAt);
      update = { encoding, shapes, scales, counts, indices, q: r.int8s(kept) };
      break;
    }
  }
  if (r.at !== start + payloadBytes) throw new Error(`envelope decoder bug: payload ended at ${r.at}, declared ${start + payloadBytes}`);
  const signedLength = r.at;
  const rest = bytes.length - signedLength;
  if (rest < SIGNATURE_BYTES) throw new EnvelopeError('truncated', `signature needs ${SIGNATURE_BYTES} bytes, ${rest} left`, signedLength);
  if (rest > SIGNATURE_BYTES) throw new EnvelopeError('trailing-bytes', `${rest - SIGNATURE_BYTES} bytes after the signature`, signedLength + SIGNATURE_BYTES);
  return {
    envelopeVersion: version,
    modelVersion,
    roundId,
    clientId,
    timestampMs,
    update,
    signedBytes: bytes.subarray(0, signedLength),
    signature: bytes.subarray(signedLength),
    byteLength: bytes.length,
  };
}

export function verifyEnvelopeSignature(decoded: Pick<DecodedEnvelope, 'signedBytes' | 'signature'>, publicKey: SigningKey): boolean {
  return verifyEnvelopeBytes(decoded.signedBytes, decoded.signature, publicKey);
}

/** decodeEnvelope, then the signature: throws EnvelopeError('bad-signature') if it does not verify. */
export function openEnvelope(bytes: Uint8Array, publicKey: SigningKey, limits?: EnvelopeLimits): DecodedEnvelope {
  const decoded = decodeEnvelope(bytes, limits);
  if (!verifyEnvelopeSignature(decoded, publicKey)) throw new EnvelopeError('bad-signature', `signature does not verify for client ${JSON.stringify(decoded.clientId)}`);
  return decoded;
}

class Reader {
  at = 0;
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (this.bytes.length - this.at < n) throw new EnvelopeError('truncated', `${what} needs ${n} bytes, ${this.bytes.length - this.at} left`, this.at);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.at++);
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.at, true);
    this.at += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  string(what: string): string {
    const lengthAt = this.at;
    const n = this.u8(`${what} length`);
    if (n === 0) throw new EnvelopeError('bad-string', `${what} is empty`, lengthAt);
    if (n > MAX_STRING_BYTES) throw new EnvelopeError('bad-string', `${what} is ${n} bytes, over ${MAX_STRING_BYTES}`, lengthAt);
    this.need(n, what);
    let s: string;
    try {
      s = utf8Decoder.decode(this.bytes.subarray(this.at, this.at + n));
    } catch {
      throw new EnvelopeError('bad-string', `${what} is not valid UTF-8`, this.at);
    }
    this.at += n;
    return s;
  }
  /** Callers have checked `need` for the whole run. Copies, so the result owns aligned memory. */
  float32s(n: number): Float32Array {
    const out = new Float32Array(n);
    if (LITTLE_ENDIAN_HOST) new Uint8Array(out.buffer).set(this.bytes.subarray(this.at, this.at + 4 * n));
    else for (let i = 0; i < n; i++) out[i] = this.view.getFloat32(this.at + 4 * i, true);
    this.at += 4 * n;
    return out;
  }
  uint32s(n: number): Uint32Array {
    const out = new Uint32Array(n);
    if (LITTLE_ENDIAN_HOST) new Uint8Array(out.buffer).set(this.bytes.subarray(this.at, this.at + 4 * n));
    else for (let i = 0; i < n; i++) out[i] = this.view.getUint32(this.at + 4 * i, true);
    this.at += 4 * n;
    return out;
  }
  /** Callers have checked `need` for the whole run. */
  topKIndices(counts: Uint32Array, sizes: readonly number[], kept: number): Uint32Array {
    const out = new Uint32Array(kept);
    let r = 0;
    for (let t = 0; t < counts.length; t++) {
      if (indexWidth(sizes[t]) === 2) for (let j = 0; j < counts[t]; j++, r++, this.at += 2) out[r] = this.view.getUint16(this.at, true);
      else for (let j = 0; j < counts[t]; j++, r++, this.at += 4) out[r] = this.view.getUint32(this.at, true);
    }
    return out;
  }
  int8s(n: number): Int8Array {
    const out = new Int8Array(n);
    new Uint8Array(out.buffer).set(this.bytes.subarray(this.at, this.at + n));
    this.at += n;
    return out;
  }
}

function expectPayload(actual: number, expected: number, what: string, at: number): void {
  if (actual !== expected) throw new EnvelopeError('shape-mismatch', `payload is ${actual} bytes but the shapes and encoding need ${expected} (${what})`, at);
}

/** Top-k indices are u16 in tensors of at most 65,536 elements (every layer of the calorie MLP), u32 above. */
function indexWidth(tensorSize: number): 2 | 4 {
  return tensorSize <= 0x10000 ? 2 : 4;
}

function topKIndexBytes(counts: Uint32Array, sizes: readonly number[]): number {
  let n = 0;
  for (let t = 0; t < sizes.length; t++) n += counts[t] * indexWidth(sizes[t]);
  return n;
}

function writeTopKIndices(view: DataView, at: number, counts: Uint32Array, indices: Uint32Array, sizes: readonly number[]): number {
  let r = 0;
  for (let t = 0; t < sizes.length; t++) {
    if (indexWidth(sizes[t]) === 2) for (let j = 0; j < counts[t]; j++, r++, at += 2) view.setUint16(at, indices[r], true);
    else for (let j = 0; j < counts[t]; j++, r++, at += 4) view.setUint32(at, indices[r], true);
  }
  return at;
}

function checkTopKIndices(counts: Uint32Array, indices: Uint32Array, sizes: readonly number[], at: number): void {
  let r = 0;
  for (let t = 0; t < sizes.length; t++) {
    const w = indexWidth(sizes[t]);
    let prev = -1;
    for (let j = 0; j < counts[t]; j++, r++, at += w) {
      const ix = indices[r];
      if (ix >= sizes[t]) throw new EnvelopeError('bad-index', `tensor ${t} index ${ix} is out of range [0, ${sizes[t]})`, at);
      if (ix <= prev) throw new EnvelopeError('bad-index', `tensor ${t} indices are not strictly increasing (${prev} then ${ix})`, at);
      prev = ix;
    }
  }
}

function checkedSizes(shapes: readonly TensorShape[]): number[] {
  if (!Array.isArray(shapes) || shapes.length === 0 || shapes.length > 0xffff) throw new EnvelopeError('bad-shape', `need 1 to 65535 tensor shapes (got ${shapes?.length})`);
  return shapes.map((shape, t) => {
    if (!Array.isArray(shape) || shape.length === 0 || shape.length > MAX_RANK) throw new EnvelopeError('bad-shape', `tensor ${t} rank must be in [1, ${MAX_RANK}]`);
    let n = 1;
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 1 || d > 0xffffffff) throw new EnvelopeError('bad-shape', `tensor ${t} dimension ${d} must be an integer in [1, 2^32)`);
      n *= d;
    }
    return n;
  });
}

function encodeString(s: string, what: string): Uint8Array {
  if (typeof s !== 'string') throw new EnvelopeError('bad-string', `${what} must be a string`);
  const b = utf8Encoder.encode(s);
  if (b.length === 0 || b.length > MAX_STRING_BYTES) throw new EnvelopeError('bad-string', `${what} must be 1 to ${MAX_STRING_BYTES} UTF-8 bytes (got ${b.length})`);
  return b;
}

function writeFloat32s(out: Uint8Array, view: DataView, at: number, values: Float32Array): number {
  if (LITTLE_ENDIAN_HOST) out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), at);
  else for (let i = 0; i < values.length; i++) view.setFloat32(at + 4 * i, values[i], true);
  return at + 4 * values.length;
}

function writeUint32s(out: Uint8Array, view: DataView, at: number, values: Uint32Array): number {
  if (LITTLE_ENDIAN_HOST) out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), at);
  else for (let i = 0; i < values.length; i++) view.setUint32(at + 4 * i, values[i], true);
  return at + 4 * values.length;
}

function writeInt8s(out: Uint8Array, at: number, values: Int8Array): number {
  out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), at);
  return at + values.length;
}

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
}
