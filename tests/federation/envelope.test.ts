import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ENVELOPE_ERROR_CODES,
  EnvelopeError,
  compressUpdate,
  decodeEnvelope,
  decompressUpdate,
  encodeEnvelope,
  openEnvelope,
  verifyEnvelopeSignature,
  type EnvelopeErrorCode,
  type Float32Update,
  type UpdateEncoding,
} from '../../federation/index.ts';
import { BODY_SHAPES, BODY_SIZE, gaussianVector, makeKeys, sealUpdate, seededUniform } from './helpers.ts';

const keys = makeKeys();
const other = makeKeys();
const delta = gaussianVector(BODY_SIZE, 1, 0.05);
const dense = sealUpdate(keys, delta);
const topk = sealUpdate(keys, delta, { compress: { encoding: 'int8-topk', random: seededUniform(4), topK: { scope: 'per-tensor', density: 0.25 } } });
const float = sealUpdate(keys, delta, { compress: { encoding: 'float32' } });
/** Offset of the u16 tensor count for the helper's strings ('kcal-mlp@3', 'gw-alice'). */
const TENSORS_AT = 20 + 1 + 10 + 1 + 8;
/** Offset of the u32 payload length: after the four shapes [8, 6] [8] [4, 8] [4]. */
const PAYLOAD_AT = TENSORS_AT + 2 + (1 + 8) + (1 + 4) + (1 + 8) + (1 + 4);

function codeOf(f: () => unknown): EnvelopeErrorCode | 'no error' {
  try {
    f();
    return 'no error';
  } catch (e) {
    if (e instanceof EnvelopeError) return e.code;
    throw e;
  }
}
const mutate = (bytes: Uint8Array, edit: (b: Uint8Array, v: DataView) => void): Uint8Array => {
  const b = Uint8Array.from(bytes);
  edit(b, new DataView(b.buffer));
  return b;
};

describe('envelope round trip', () => {
  it.each<[UpdateEncoding, Uint8Array]>([
    ['int8-dense', dense],
    ['int8-topk', topk],
    ['float32', float],
  ])('%s: decodes to the same fields and update, and the signature verifies', (encoding, bytes) => {
    const env = openEnvelope(bytes, keys.publicKey);
    expect(env).toMatchObject({ envelopeVersion: 1, modelVersion: 'kcal-mlp@3', roundId: 7, clientId: 'gw-alice', timestampMs: 1_764_000_000_000, byteLength: bytes.length });
    expect(env.update.encoding).toBe(encoding);
    expect(env.update.shapes).toEqual(BODY_SHAPES);
    const expected = compressUpdate(delta, BODY_SHAPES, encoding === 'float32' ? { encoding } : encoding === 'int8-dense' ? { encoding, random: seededUniform(1) } : { encoding, random: seededUniform(4), topK: { scope: 'per-tensor', density: 0.25 } });
    expect(env.update).toEqual(expected);
    expect(decompressUpdate(env.update)).toEqual(decompressUpdate(expected));
    expect(verifyEnvelopeSignature(env, other.publicKey)).toBe(false);
  });

  it('sizes: dense int8 is a byte per value plus a scale per tensor; top-k 3 bytes per kept value with u16 indices', () => {
    expect(float.length - dense.length).toBe(4 * BODY_SIZE - (4 * 4 + BODY_SIZE));
    const kept = 12 + 2 + 8 + 1;
    expect(topk.length - dense.length).toBe(4 * 4 + 3 * kept - BODY_SIZE);
  });

  it('uses u32 indices in tensors above 65,536 elements', () => {
    const big = new Float32Array(70_000);
    big[69_999] = 1;
    big[3] = -0.5;
    const b = sealUpdate(keys, big, { shapes: [[70_000]], compress: { encoding: 'int8-topk', random: seededUniform(1), topK: { scope: 'global', k: 2 } } });
    const env = openEnvelope(b, keys.publicKey);
    expect(env.update).toMatchObject({ counts: Uint32Array.of(2), indices: Uint32Array.of(3, 69_999) });
    const small = sealUpdate(keys, big.subarray(0, 60_000), { shapes: [[60_000]], compress: { encoding: 'int8-topk', random: seededUniform(1), topK: { scope: 'global', k: 2 } } });
    expect(b.length - small.length).toBe(2 * 2); // two indices 2 bytes wider; the dimension costs the same
  });

  it('is deterministic (Ed25519 signatures are), and carries unicode strings and a u32 round', () => {
    expect(sealUpdate(keys, delta)).toEqual(dense);
    const b = sealUpdate(keys, delta, { clientId: 'gw-ümlaut-✓', roundId: 0xffffffff, timestampMs: 0 });
    expect(decodeEnvelope(b)).toMatchObject({ clientId: 'gw-ümlaut-✓', roundId: 0xffffffff, timestampMs: 0 });
  });

  it('decodes from a view with an odd byte offset', () => {
    const host = new Uint8Array(dense.length + 3);
    host.set(dense, 3);
    expect(decompressUpdate(openEnvelope(host.subarray(3), keys.publicKey).update)).toEqual(decompressUpdate(decodeEnvelope(dense).update));
  });
});

describe('every malformed input has its reason', () => {
  const cases: [EnvelopeErrorCode, () => unknown][] = [
    ['bad-input', () => decodeEnvelope('FWUP' as unknown as Uint8Array)],
    ['oversize', () => decodeEnvelope(dense, { maxBytes: dense.length - 1 })],
    ['oversize', () => decodeEnvelope(dense, { maxElements: BODY_SIZE - 1 })],
    ['truncated', () => decodeEnvelope(dense.subarray(0, 3))],
    ['truncated', () => decodeEnvelope(dense.subarray(0, 30))],
    ['truncated', () => decodeEnvelope(dense.subarray(0, dense.length - 1))],
    ['bad-magic', () => decodeEnvelope(mutate(dense, (b) => (b[1] = 0x58)))],
    ['unsupported-version', () => decodeEnvelope(mutate(dense, (b) => (b[4] = 2)))],
    ['bad-encoding', () => decodeEnvelope(mutate(dense, (b) => (b[5] = 0)))],
    ['bad-encoding', () => decodeEnvelope(mutate(dense, (b) => (b[5] = 4)))],
    ['bad-flags', () => decodeEnvelope(mutate(dense, (b) => (b[7] = 0x80)))],
    ['bad-timestamp', () => decodeEnvelope(mutate(dense, (b) => b.fill(0xff, 12, 20)))],
    ['bad-string', () => decodeEnvelope(mutate(dense, (b) => (b[20] = 0)))],
    ['bad-string', () => decodeEnvelope(mutate(dense, (b) => (b[20] = 200)))],
    ['bad-string', () => decodeEnvelope(mutate(dense, (b) => (b[22] = 0xff)))],
    ['bad-shape', () => decodeEnvelope(mutate(dense, (_, v) => v.setUint16(TENSORS_AT, 0, true)))],
    ['bad-shape', () => decodeEnvelope(mutate(dense, (_, v) => v.setUint16(TENSORS_AT, 300, true)))],
    ['bad-shape', () => decodeEnvelope(mutate(dense, (b) => (b[TENSORS_AT + 2] = 0)))],
    ['bad-shape', () => decodeEnvelope(mutate(dense, (b) => (b[TENSORS_AT + 2] = 9)))],
    ['bad-shape', () => decodeEnvelope(mutate(dense, (_, v) => v.setUint32(TENSORS_AT + 3, 0, true)))],
    ['oversize', () => decodeEnvelope(mutate(dense, (_, v) => v.setUint32(TENSORS_AT + 3, 0xffffffff, true)))],
    ['shape-mismatch', () => decodeEnvelope(mutate(dense, (_, v) => v.setUint32(TENSORS_AT + 3, 9, true)))],
    ['shape-mismatch', () => decodeEnvelope(mutate(topk, (_, v) => v.setUint32(PAYLOAD_AT, v.getUint32(PAYLOAD_AT, true) + 1, true)))],
    ['shape-mismatch', () => decodeEnvelope(mutate(float, (_, v) => v.setUint32(TENSORS_AT + 3, 7, true)))],
    ['trailing-bytes', () => decodeEnvelope(Uint8Array.from([...dense, 0]))],
    ['bad-signature', () => openEnvelope(dense, other.publicKey)],
    ['bad-signature', () => openEnvelope(mutate(dense, (b) => (b[b.length - 70] ^= 1)), keys.publicKey)],
    ['bad-signature', () => openEnvelope(mutate(dense, (b) => (b[b.length - 1] ^= 1)), keys.publicKey)],
  ];
  it.each(cases.map(([code, f], i) => [`${code} #${i}`, code, f] as const))('%s', (_, code, f) => {
    expect(codeOf(f)).toBe(code);
  });

  it('top-k indices out of range, repeated, or a count above the tensor size are bad-index', () => {
    // Layout after the shapes: u32 payload length, then T scales, T counts, K indices, K values.
    // Every body tensor is small, so indices are u16.
    const countsAt = PAYLOAD_AT + 4 + 4 * 4;
    const indicesAt = countsAt + 4 * 4;
    expect(codeOf(() => decodeEnvelope(mutate(topk, (_, v) => v.setUint16(indicesAt, 48, true))))).toBe('bad-index');
    expect(codeOf(() => decodeEnvelope(mutate(topk, (_, v) => v.setUint16(indicesAt + 2, v.getUint16(indicesAt, true), true))))).toBe('bad-index');
    expect(codeOf(() => decodeEnvelope(mutate(topk, (_, v) => v.setUint32(countsAt + 4, 9, true))))).toBe('bad-index');
  });

  it('the encoder refuses what it cannot carry, with the same codes', () => {
    const update = compressUpdate(delta, BODY_SHAPES, { encoding: 'float32' }) as Float32Update;
    const base = { modelVersion: 'm', roundId: 1, clientId: 'c', timestampMs: 1, update };
    expect(codeOf(() => encodeEnvelope({ ...base, clientId: 'x'.repeat(129) }, keys.privateKey))).toBe('bad-string');
    expect(codeOf(() => encodeEnvelope({ ...base, modelVersion: '' }, keys.privateKey))).toBe('bad-string');
    expect(codeOf(() => encodeEnvelope({ ...base, roundId: -1 }, keys.privateKey))).toBe('bad-round');
    expect(codeOf(() => encodeEnvelope({ ...base, timestampMs: 1.5 }, keys.privateKey))).toBe('bad-timestamp');
    expect(codeOf(() => encodeEnvelope({ ...base, update: { ...update, values: new Float32Array(3) } }, keys.privateKey))).toBe('shape-mismatch');
    expect(codeOf(() => encodeEnvelope({ ...base, update: { ...update, shapes: [[0]] } }, keys.privateKey))).toBe('bad-shape');
  });

  it('error messages name the reason and the offset', () => {
    expect(() => decodeEnvelope(mutate(dense, (b) => (b[4] = 9)))).toThrow('update envelope: unsupported-version: envelope version 9 (this decoder reads 1) (at byte 4)');
  });
});

describe('hostile bytes (property)', () => {
  const signedLength = dense.length - 64;
  const samples = [dense, topk, float];

  it('random bytes only ever raise EnvelopeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (junk, withHeader) => {
        const bytes = withHeader ? Uint8Array.from([...dense.subarray(0, 24), ...junk]) : junk;
        const code = codeOf(() => decodeEnvelope(bytes));
        expect(code === 'no error' || ENVELOPE_ERROR_CODES.includes(code)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  type Mutation = { kind: 'flip'; at: number; bit: number } | { kind: 'set'; at: number; value: number } | { kind: 'cut'; at: number } | { kind: 'insert'; at: number; value: number };
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  );
  const apply = (src: Uint8Array, ms: readonly Mutation[]): Uint8Array => {
    let b = Uint8Array.from(src);
    for (const m of ms) {
      const at = m.at % (b.length + 1);
      if (m.kind === 'flip' && at < b.length) b[at] ^= 1 << m.bit;
      else if (m.kind === 'set' && at < b.length) b[at] = m.value;
      else if (m.kind === 'cut') b = b.subarray(0, at);
      else if (m.kind === 'insert') b = Uint8Array.from([...b.subarray(0, at), m.value, ...b.subarray(at)]);
    }
    return b;
  };
  const changed = (a: Uint8Array, b: Uint8Array): boolean => a.length !== b.length || a.some((x, i) => x !== b[i]);

  it('mutated envelopes only raise EnvelopeError, and never verify once any byte changed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: samples.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (which, ms) => {
        const src = samples[which];
        const bytes = apply(src, ms);
        const code = codeOf(() => openEnvelope(bytes, keys.publicKey));
        if (changed(src, bytes)) expect(code).not.toBe('no error');
        else expect(code).toBe('no error');
        if (code !== 'no error') expect(ENVELOPE_ERROR_CODES).toContain(code);
      }),
      { numRuns: 1500 },
    );
  });

  it('a single changed byte anywhere in the signed region always fails verification', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: signedLength - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const bytes = mutate(dense, (b) => (b[at] ^= x));
        expect(codeOf(() => openEnvelope(bytes, keys.publicKey))).not.toBe('no error');
      }),
      { numRuns: 1000 },
    );
  });
});
