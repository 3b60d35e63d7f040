import { describe, expect, it } from 'vitest';
import {
  REJECT_REASONS,
  SeenUpdates,
  compressUpdate,
  decompressUpdate,
  encodeEnvelope,
  validateUpdate,
  type CompressedUpdate,
  type RejectReason,
  type ValidationContext,
  type ValidationResult,
} from '../../federation/index.ts';
import { BODY_SHAPES, BODY_SIZE, gaussianVector, makeKeys, sealUpdate, seededUniform } from './helpers.ts';

const alice = makeKeys();
const mallory = makeKeys();
const registry = new Map([['gw-alice', alice.publicKey]]);
const delta = gaussianVector(BODY_SIZE, 3, 0.05);
const good = sealUpdate(alice, delta);

function ctx(over: Partial<ValidationContext> = {}): ValidationContext {
  return {
    modelVersion: 'kcal-mlp@3',
    shapes: BODY_SHAPES,
    openRound: 7,
    normBound: 10,
    maxBytes: 64 * 1024,
    publicKeyOf: (id) => registry.get(id),
    seen: new SeenUpdates(),
    ...over,
  };
}

function sealRaw(update: CompressedUpdate): Uint8Array {
  return encodeEnvelope({ modelVersion: 'kcal-mlp@3', roundId: 7, clientId: 'gw-alice', timestampMs: 1, update }, alice.privateKey);
}

const observed = new Set<RejectReason>();
function rejected(result: ValidationResult, reason: RejectReason, detail: RegExp): void {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.reason).toBe(reason);
  expect(result.detail).toMatch(detail);
  observed.add(result.reason);
}

describe('validateUpdate accepts', () => {
  it('a well-formed, signed, fresh update, with its decoded delta, norm and digest', () => {
    const result = validateUpdate(good, ctx());
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { update } = result;
    expect(update).toMatchObject({ clientId: 'gw-alice', roundId: 7, modelVersion: 'kcal-mlp@3', encoding: 'int8-dense', staleness: 0, byteLength: good.length });
    const expected = decompressUpdate(compressUpdate(delta, BODY_SHAPES, { encoding: 'int8-dense', random: seededUniform(1) }));
    expect(update.delta).toEqual(expected);
    expect(update.norm).toBeCloseTo(Math.hypot(...expected), 6);
    expect(update.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a stale update within maxStaleness, reporting its staleness', () => {
    const result = validateUpdate(sealUpdate(alice, delta, { roundId: 5 }), ctx({ maxStaleness: 2 }));
    expect(result.ok && result.update.staleness).toBe(2);
  });
});

describe('validateUpdate rejects with a reason', () => {
  it('oversize, before parsing', () => rejected(validateUpdate(good, ctx({ maxBytes: good.length - 1 })), 'oversize', /exceeds the \d+-byte limit/));

  it('malformed bytes, with the envelope code', () => {
    const bad = Uint8Array.from(good);
    bad[0] = 0;
    const r = validateUpdate(bad, ctx());
    rejected(r, 'malformed', /bad-magic/);
    expect(!r.ok && r.envelopeCode).toBe('bad-magic');
    rejected(validateUpdate(good.subarray(0, 50), ctx()), 'malformed', /truncated/);
  });

  it('unsupported envelope version', () => {
    const bad = Uint8Array.from(good);
    bad[4] = 2;
    rejected(validateUpdate(bad, ctx()), 'unsupported-version', /envelope version 2/);
  });

  it('a client id that is not the authenticated publisher', () => rejected(validateUpdate(good, ctx({ senderClientId: 'gw-bob' })), 'client-mismatch', /published by "gw-bob"/));

  it('an unregistered client', () => rejected(validateUpdate(sealUpdate(mallory, delta, { clientId: 'gw-mallory' }), ctx()), 'unknown-client', /gw-mallory/));

  it('a signature by another key', () => rejected(validateUpdate(sealUpdate(mallory, delta), ctx()), 'bad-signature', /registered key/));

  it('a signature that no longer covers modified bytes', () => {
    const bad = Uint8Array.from(good);
    bad[bad.length - 100] ^= 4; // a payload value
    rejected(validateUpdate(bad, ctx()), 'bad-signature', /does not verify/);
  });

  it('another model version', () => rejected(validateUpdate(sealUpdate(alice, delta, { modelVersion: 'kcal-mlp@2' }), ctx()), 'model-version', /"kcal-mlp@2", current is "kcal-mlp@3"/));

  it('a round not open yet', () => rejected(validateUpdate(sealUpdate(alice, delta, { roundId: 8 }), ctx()), 'future-round', /round 8 but round 7 is open/));

  it('a stale round', () => {
    rejected(validateUpdate(sealUpdate(alice, delta, { roundId: 6 }), ctx()), 'stale-round', /1 behind .*at most 0/);
    rejected(validateUpdate(sealUpdate(alice, delta, { roundId: 4 }), ctx({ maxStaleness: 2 })), 'stale-round', /3 behind .*at most 2/);
  });

  it('an encoding the aggregator does not take', () =>
    rejected(validateUpdate(sealUpdate(alice, delta, { compress: { encoding: 'float32' } }), ctx({ allowedEncodings: ['int8-dense', 'int8-topk'] })), 'encoding-not-allowed', /float32/));

  it('shapes other than the shared body, even with the same element count', () =>
    rejected(validateUpdate(sealUpdate(alice, delta, { shapes: [[BODY_SIZE]] }), ctx()), 'shape-mismatch', /\[92\] differ from .* \[8, 6\] \[8\] \[4, 8\] \[4\]/));

  it('the same bytes again (a QoS 1 redelivery) as duplicate, a different update for the same round as replay', () => {
    const accepted = validateUpdate(good, ctx());
    if (!accepted.ok) throw new Error(accepted.detail);
    const seen = new SeenUpdates();
    seen.record(accepted.update.clientId, accepted.update.roundId, accepted.update.digest);
    rejected(validateUpdate(good, ctx({ seen })), 'duplicate', /already accepted/);
    const second = sealUpdate(alice, gaussianVector(BODY_SIZE, 99, 0.05));
    rejected(validateUpdate(second, ctx({ seen })), 'replay', /different update accepted for round 7/);
    // The slot is per round: the next round is open to the client.
    expect(validateUpdate(sealUpdate(alice, delta, { roundId: 8 }), ctx({ seen, openRound: 8 })).ok).toBe(true);
  });

  it('non-finite values (NaN in float32, an infinite int8 scale)', () => {
    const values = new Float32Array(BODY_SIZE);
    values[40] = Number.NaN;
    rejected(validateUpdate(sealRaw({ encoding: 'float32', shapes: BODY_SHAPES, values }), ctx()), 'non-finite', /value 40 decodes to NaN/);
    const q = new Int8Array(BODY_SIZE).fill(1);
    rejected(validateUpdate(sealRaw({ encoding: 'int8-dense', shapes: BODY_SHAPES, scales: Float32Array.of(1, Infinity, 1, 1), q }), ctx()), 'non-finite', /Infinity/);
    // The largest float32 values square and sum in float64 without overflow: a plain norm rejection.
    const huge = new Float32Array(BODY_SIZE).fill(3e38);
    rejected(validateUpdate(sealRaw({ encoding: 'float32', shapes: BODY_SHAPES, values: huge }), ctx()), 'norm-exceeded', /L2 norm 2.87\d*e\+39/);
  });

  it('an L2 norm over the bound', () => rejected(validateUpdate(good, ctx({ normBound: 0.1 })), 'norm-exceeded', /exceeds the bound 0.1/));

  // Runs after the tests above (vitest runs a file's tests in order) and checks none was forgotten.
  it('covers every reason (this file tests each one)', () => {
    expect([...observed].sort()).toEqual([...REJECT_REASONS].sort());
  });
});

describe('validateUpdate is pure and fails safe', () => {
  it('never records anything: a forged update cannot burn the real client’s slot', () => {
    const seen = new SeenUpdates();
    expect(validateUpdate(sealUpdate(mallory, delta), ctx({ seen })).ok).toBe(false);
    expect(validateUpdate(good, ctx({ seen })).ok).toBe(true);
    expect(seen.size).toBe(0);
  });

  it('an unusable context is the aggregator’s bug: it throws naming the field', () => {
    expect(() => validateUpdate(good, ctx({ normBound: 0 }))).toThrow(/normBound must be positive/);
    expect(() => validateUpdate(good, ctx({ openRound: -1 }))).toThrow(/openRound must be a u32/);
    expect(() => validateUpdate(good, ctx({ shapes: [] }))).toThrow(/shapes must be a non-empty list/);
  });
});

describe('SeenUpdates', () => {
  it('survives a JSON round trip and forgets old rounds', () => {
    const s = new SeenUpdates();
    s.record('a', 1, 'd1');
    s.record('b', 2, 'd2');
    s.record('a', 2, 'd3');
    const restored = SeenUpdates.fromJSON(JSON.parse(JSON.stringify(s)));
    expect(restored.digestOf('a', 2)).toBe('d3');
    expect(restored.size).toBe(3);
    restored.forgetBefore(2);
    expect(restored.has('a', 1)).toBe(false);
    expect(restored.size).toBe(2);
    expect(() => restored.record('a', 2, 'other')).toThrow(/already has an update recorded for round 2/);
  });
});
