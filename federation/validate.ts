/**
 * The aggregator's gate: turns envelope bytes into an accepted update or a logged reason.
 *
 * Order matters. Size first (cheapest, and before any parsing); then structure; then who sent it
 * (the MQTT identity, the registered key, the signature), so that every later reason is about an
 * authenticated client and an attacker cannot get a stranger's update logged as stale or replayed;
 * then the round contract (model version, round, encoding, shapes); then the replay set; and only
 * then the values (finite, norm), which need the payload decoded.
 *
 * Pure: nothing in `ctx` is modified. On acceptance the caller commits the update and records it in
 * its SeenUpdates in the same durable write (see seen-updates.ts).
 */
import { createHash } from 'node:crypto';
import { decompressUpdate, type UpdateEncoding } from './compression.ts';
import { EnvelopeError, decodeEnvelope, verifyEnvelopeSignature, type EnvelopeErrorCode, type EnvelopeLimits } from './envelope.ts';
import { formatShapes, shapesEqual, tensorSizes, type TensorShape } from './shapes.ts';
import type { SigningKey } from './signing.ts';

export type RejectReason =
  | 'oversize'
  | 'malformed'
  | 'unsupported-version'
  | 'client-mismatch'
  | 'unknown-client'
  | 'bad-signature'
  | 'model-version'
  | 'future-round'
  | 'stale-round'
  | 'encoding-not-allowed'
  | 'shape-mismatch'
  | 'duplicate'
  | 'replay'
  | 'non-finite'
  | 'norm-exceeded';

export const REJECT_REASONS: readonly RejectReason[] = [
  'oversize',
  'malformed',
  'unsupported-version',
  'client-mismatch',
  'unknown-client',
  'bad-signature',
  'model-version',
  'future-round',
  'stale-round',
  'encoding-not-allowed',
  'shape-mismatch',
  'duplicate',
  'replay',
  'non-finite',
  'norm-exceeded',
];

export interface ValidationContext {
  /** The current model version; updates must carry exactly this. */
  readonly modelVersion: string;
  /** Shapes of the model's shared body, in layout order. */
  readonly shapes: readonly TensorShape[];
  /** The open round. */
  readonly openRound: number;
  /**
   * Rounds behind the open one still accepted (buffered asynchronous mode); default 0: only the open
   * round. The accepted update carries its staleness for the strategy to weight.
   */
  readonly maxStaleness?: number;
  /**
   * Buffered mode: the model version round r was announced with. An update from a round inside the
   * staleness window must name that version (it trained from it), not the current one. Without it,
   * every update must name `modelVersion`.
   */
  readonly modelVersionOfRound?: (roundId: number) => string | undefined;
  /** Bound on the L2 norm of the decoded delta. */
  readonly normBound: number;
  /** Bound on the envelope's size in bytes. */
  readonly maxBytes: number;
  /** The client's registered Ed25519 public key, or undefined if it has none. */
  readonly publicKeyOf: (clientId: string) => SigningKey | undefined;
  /** Updates already accepted (read only here). */
  readonly seen: { digestOf(clientId: string, roundId: number): string | undefined };
  /** The identity the transport authenticated (the MQTT user of `updates/<clientId>`), if known. */
  readonly senderClientId?: string;
  /** Encodings the aggregator takes; default all. */
  readonly allowedEncodings?: readonly UpdateEncoding[];
  /** Structural limits beyond maxBytes (elements, tensors). */
  readonly envelopeLimits?: Omit<EnvelopeLimits, 'maxBytes'>;
}

export interface ValidatedUpdate {
  readonly clientId: string;
  readonly roundId: number;
  readonly modelVersion: string;
  readonly timestampMs: number;
  readonly encoding: UpdateEncoding;
  readonly delta: Float32Array;
  /** L2 norm of delta. */
  readonly norm: number;
  /** openRound − roundId (0 unless maxStaleness allows older rounds). */
  readonly staleness: number;
  /** SHA-256 hex of the envelope bytes: what SeenUpdates records. */
  readonly digest: string;
  readonly byteLength: number;
}

export type ValidationResult =
  | { readonly ok: true; readonly update: ValidatedUpdate }
  | {
      readonly ok: false;
      readonly reason: RejectReason;
      readonly detail: string;
      /** The envelope decoder's code, for 'malformed' and the other structural reasons. */
      readonly envelopeCode?: EnvelopeErrorCode;
      /** The client the envelope claims to be from, once parsed (unauthenticated before the signature check). */
      readonly clientId?: string;
    };

const ENVELOPE_CODE_TO_REASON: Partial<Record<EnvelopeErrorCode, RejectReason>> = {
  oversize: 'oversize',
  'unsupported-version': 'unsupported-version',
  'bad-signature': 'bad-signature',
};

export function validateUpdate(envelopeBytes: Uint8Array, ctx: ValidationContext): ValidationResult {
  checkContext(ctx);
  if (!(envelopeBytes instanceof Uint8Array)) return reject('malformed', 'the envelope is not a byte array');
  if (envelopeBytes.length > ctx.maxBytes) return reject('oversize', `${envelopeBytes.length} bytes exceeds the ${ctx.maxBytes}-byte limit`);

  let env;
  try {
    env = decodeEnvelope(envelopeBytes, { ...ctx.envelopeLimits, maxBytes: ctx.maxBytes });
  } catch (e) {
    if (!(e instanceof EnvelopeError)) throw e;
    return { ok: false, reason: ENVELOPE_CODE_TO_REASON[e.code] ?? 'malformed', detail: e.message, envelopeCode: e.code };
  }
  const { clientId, roundId } = env;
  const no = (reason: RejectReason, detail: string): ValidationResult => ({ ok: false, reason, detail, clientId });

  if (ctx.senderClientId !== undefined && ctx.senderClientId !== clientId) {
    return no('client-mismatch', `envelope says client ${JSON.stringify(clientId)} but it was published by ${JSON.stringify(ctx.senderClientId)}`);
  }
  const key = ctx.publicKeyOf(clientId);
  if (key === undefined) return no('unknown-client', `no public key is registered for client ${JSON.stringify(clientId)}`);
  if (!verifyEnvelopeSignature(env, key)) return no('bad-signature', `the signature does not verify with client ${JSON.stringify(clientId)}'s registered key`);

  const maxStaleness = ctx.maxStaleness ?? 0;
  const inWindow = roundId < ctx.openRound && ctx.openRound - roundId <= maxStaleness;
  const expectedVersion = (inWindow ? ctx.modelVersionOfRound?.(roundId) : undefined) ?? ctx.modelVersion;
  if (env.modelVersion !== expectedVersion) {
    return no('model-version', `update is for model ${JSON.stringify(env.modelVersion)}, ${expectedVersion === ctx.modelVersion ? 'current is' : `round ${roundId} announced`} ${JSON.stringify(expectedVersion)}`);
  }
  if (roundId > ctx.openRound) return no('future-round', `update is for round ${roundId} but round ${ctx.openRound} is open`);
  const staleness = ctx.openRound - roundId;
  if (staleness > maxStaleness) {
    return no('stale-round', `update is for round ${roundId}, ${staleness} behind the open round ${ctx.openRound} (at most ${maxStaleness} accepted)`);
  }
  const encoding = env.update.encoding;
  if (ctx.allowedEncodings !== undefined && !ctx.allowedEncodings.includes(encoding)) {
    return no('encoding-not-allowed', `encoding ${encoding} is not accepted (allowed: ${ctx.allowedEncodings.join(', ')})`);
  }
  if (!shapesEqual(env.update.shapes, ctx.shapes)) {
    return no('shape-mismatch', `update shapes ${formatShapes(env.update.shapes)} differ from the model's shared body ${formatShapes(ctx.shapes)}`);
  }

  const digest = createHash('sha256').update(envelopeBytes).digest('hex');
  const seen = ctx.seen.digestOf(clientId, roundId);
  if (seen !== undefined) {
    return seen === digest
      ? no('duplicate', `this exact update from ${JSON.stringify(clientId)} for round ${roundId} was already accepted (an MQTT QoS 1 redelivery?)`)
      : no('replay', `client ${JSON.stringify(clientId)} already has a different update accepted for round ${roundId}`);
  }

  const delta = decompressUpdate(env.update);
  let sumSq = 0;
  for (let i = 0; i < delta.length; i++) {
    const v = delta[i];
    if (!Number.isFinite(v)) return no('non-finite', `value ${i} decodes to ${v}`);
    sumSq += v * v;
  }
  // Float32 values squared and summed in float64 cannot overflow (2^256 · 2^24 ≪ 2^1024).
  const norm = Math.sqrt(sumSq);
  if (norm > ctx.normBound) return no('norm-exceeded', `L2 norm ${norm.toPrecision(6)} exceeds the bound ${ctx.normBound}`);

  return {
    ok: true,
    update: { clientId, roundId, modelVersion: env.modelVersion, timestampMs: env.timestampMs, encoding, delta, norm, staleness, digest, byteLength: env.byteLength },
  };
}

function reject(reason: RejectReason, detail: string): ValidationResult {
  return { ok: false, reason, detail };
}

/** A bad context is the aggregator's bug, not the client's: it throws rather than rejects. */
function checkContext(ctx: ValidationContext): void {
  if (typeof ctx.modelVersion !== 'string' || ctx.modelVersion.length === 0) throw new RangeError('validation context: modelVersion must be a non-empty string');
  tensorSizes(ctx.shapes);
  if (!Number.isInteger(ctx.openRound) || ctx.openRound < 0 || ctx.openRound > 0xffffffff) throw new RangeError(`validation context: openRound must be a u32 (got ${ctx.openRound})`);
  const s = ctx.maxStaleness ?? 0;
  if (!Number.isInteger(s) || s < 0) throw new RangeError(`validation context: maxStaleness must be a non-negative integer (got ${s})`);
  if (!(ctx.normBound > 0)) throw new RangeError(`validation context: normBound must be positive (got ${ctx.normBound})`);
  if (!Number.isInteger(ctx.maxBytes) || ctx.maxBytes < 1) throw new RangeError(`validation context: maxBytes must be a positive integer (got ${ctx.maxBytes})`);
  if (typeof ctx.publicKeyOf !== 'function') throw new RangeError('validation context: publicKeyOf must be a function');
}
