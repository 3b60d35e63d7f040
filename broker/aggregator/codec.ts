/**
 * JSON for the aggregator's files: typed arrays travel as little-endian base64 tagged with their type,
 * so a Float32Array (an accepted delta, the global parameters) and FedAdam's Float64Array moments
 * come back bit for bit.
 */

const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function bytesOf(a: Float32Array | Float64Array): Buffer {
  const b = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  if (LITTLE_ENDIAN_HOST) return Buffer.from(b);
  const out = Buffer.from(b);
  if (a instanceof Float32Array) out.swap32();
  else out.swap64();
  return out;
}

export function f32ToBase64(a: Float32Array): string {
  return bytesOf(a).toString('base64');
}

export function f32FromBase64(s: string): Float32Array {
  return floatsFromBase64(s, Float32Array);
}

function floatsFromBase64<T extends Float32Array | Float64Array>(s: string, Type: { new (n: number): T; BYTES_PER_ELEMENT: number }): T {
  const size = Type.BYTES_PER_ELEMENT;
  const b = Buffer.from(s, 'base64');
  if (b.length % size) throw new RangeError(`float${size * 8} data of ${b.length} bytes is not a multiple of ${size}`);
  if (!LITTLE_ENDIAN_HOST) {
    if (size === 4) b.swap32();
    else b.swap64();
  }
  const out = new Type(b.length / size);
  new Uint8Array(out.buffer).set(b);
  return out;
}

export function toJsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Float32Array) return { $f32: f32ToBase64(v) };
    if (v instanceof Float64Array) return { $f64: bytesOf(v).toString('base64') };
    return v;
  });
}

export function fromJsonText(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1 && typeof o.$f32 === 'string') return f32FromBase64(o.$f32);
      if (keys.length === 1 && typeof o.$f64 === 'string') return floatsFromBase64(o.$f64, Float64Array);
    }
    return v;
  });
}
