/**
 * The MQTT payloads other than update envelopes: what the aggregator announces and publishes, and
 * what gateways publish about their privacy. JSON (readable with mosquitto_sub) except the model,
 * which carries binary ONNX and parameters. Every message carries `v` so it can evolve.
 * Topics are in broker/topics.ts; the design brief's table says who publishes and reads each.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const positive = finite.refine((x) => x > 0, 'must be > 0');
const probability = finite.refine((x) => x > 0 && x <= 1, 'must be in (0, 1]');
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');

/**
 * The DP parameters of a round's local training. The aggregator fixes the sample rate and the
 * number of steps (not a batch size or epochs): both would otherwise be derived from the user's
 * example count N and published in the ledger, revealing N.
 */
export const RoundTrainingSchema = z
  .object({
    sampleRate: probability,
    steps: z.number().int().positive(),
    /** Either a fixed sigma, or the allowed rise of the user's cumulative epsilon this round (sigma calibrated locally). */
    noiseMultiplier: positive.optional(),
    epsilonPerRound: positive.optional(),
    maxGradNorm: positive,
    delta: finite.refine((d) => d > 0 && d < 1, 'must be in (0, 1)'),
    accountant: z.enum(['rdp', 'prv']),
    /** FedProx proximal coefficient (Li et al. 2020); 0 is plain FedAvg local training. */
    mu: finite.refine((m) => m >= 0, 'must be >= 0'),
    lr: positive,
    optimizer: z.enum(['sgd', 'adam']),
  })
  .strict()
  .refine((t) => (t.noiseMultiplier === undefined) !== (t.epsilonPerRound === undefined), {
    message: 'give exactly one of noiseMultiplier or epsilonPerRound',
  });

/** Retained on rounds/current. */
export const RoundAnnouncementSchema = z
  .object({
    v: z.literal(1),
    roundId: z.number().int().nonnegative(),
    /** The model version gateways must train from and name in their envelope. */
    modelVersion: z.string().min(1).max(128),
    modelSha256: sha256,
    /** Epoch milliseconds after which the round closes (sync mode). */
    deadlineMs: z.number().int().nonnegative(),
    quorum: z.number().int().positive(),
    mode: z.enum(['sync', 'buffered']),
    /** Buffered mode: how many rounds behind an update may be and still count (staleness-weighted). */
    maxStaleness: z.number().int().nonnegative(),
    training: RoundTrainingSchema,
    update: z
      .object({
        encodings: z.array(z.enum(['float32', 'int8-dense', 'int8-topk'])).min(1),
        /** L2 bound on the update; a gateway scales a larger update down (post-processing, no privacy cost). */
        normBound: positive,
        maxBytes: z.number().int().positive(),
        topKDensity: probability.optional(),
      })
      .strict(),
  })
  .strict();
export type RoundAnnouncement = z.infer<typeof RoundAnnouncementSchema>;
export type RoundTraining = z.infer<typeof RoundTrainingSchema>;

/** Retained on privacy/<userId>/budget, published by the gateway after every spend. */
export const BudgetSummarySchema = z
  .object({
    v: z.literal(1),
    userId: z.string().min(1),
    epsilonSpent: finite,
    epsilonMax: positive,
    delta: finite,
    accountant: z.enum(['rdp', 'prv']),
    remaining: finite,
    entries: z.number().int().nonnegative(),
    /** SHA-256 of the last ledger entry's canonical bytes (the chain head), or the genesis hash. */
    lastEntryHash: sha256,
    updatedAt: z.iso.datetime(),
  })
  .strict();
export type BudgetSummary = z.infer<typeof BudgetSummarySchema>;

/** Retained on audit/<userId>, published by the aggregator's auditor. */
export const AuditVerdictSchema = z
  .object({
    v: z.literal(1),
    userId: z.string().min(1),
    ok: z.boolean(),
    /** epsilon recomputed by the auditor from the ledger entries. */
    epsilonRecomputed: finite,
    /** What the gateway's retained budget summary says, if one was seen. */
    epsilonClaimed: finite.optional(),
    epsilonMax: finite.optional(),
    accountant: z.enum(['rdp', 'prv']),
    delta: finite,
    entries: z.number().int().nonnegative(),
    head: z.object({ index: z.number().int(), hash: sha256 }).strict().optional(),
    /**
     * Ledger entries the budget summary does not cover yet (it names an earlier head of the same
     * chain). The gateway publishes the summary right after each entry, so this is normal for a
     * moment; it becomes the fault `budget-stale` when it lasts longer than the auditor's grace.
     */
    budgetBehind: z.number().int().positive().optional(),
    faults: z.array(z.object({ index: z.number().int().optional(), kind: z.string(), detail: z.string() }).strict()),
    checkedAt: z.iso.datetime(),
  })
  .strict();
export type AuditVerdict = z.infer<typeof AuditVerdictSchema>;

/** Retained on metrics/rounds after each round closes. Aggregate numbers only. */
export const RoundMetricsSchema = z
  .object({
    v: z.literal(1),
    roundId: z.number().int().nonnegative(),
    modelVersion: z.string(),
    newModelVersion: z.string(),
    strategy: z.string(),
    closedBy: z.enum(['quorum', 'deadline', 'buffer']),
    accepted: z.number().int().nonnegative(),
    rejected: z.record(z.string(), z.number().int().nonnegative()),
    bytes: z.number().int().nonnegative(),
    updateNorm: z.object({ mean: finite, max: finite }).strict(),
    durationMs: z.number().nonnegative(),
    closedAt: z.iso.datetime(),
  })
  .strict();
export type RoundMetrics = z.infer<typeof RoundMetricsSchema>;

export class MessageError extends Error {
  constructor(
    readonly topicKind: string,
    detail: string,
  ) {
    super(`bad ${topicKind} message: ${detail}`);
    this.name = 'MessageError';
  }
}

function parseJson<T>(schema: z.ZodType<T>, kind: string, payload: Uint8Array | string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof payload === 'string' ? payload : new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (err) {
    throw new MessageError(kind, `not UTF-8 JSON (${(err as Error).message})`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    throw new MessageError(kind, r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  }
  return r.data;
}

export const parseRoundAnnouncement = (p: Uint8Array | string): RoundAnnouncement => parseJson(RoundAnnouncementSchema, 'round announcement', p);
export const parseBudgetSummary = (p: Uint8Array | string): BudgetSummary => parseJson(BudgetSummarySchema, 'budget summary', p);
export const parseAuditVerdict = (p: Uint8Array | string): AuditVerdict => parseJson(AuditVerdictSchema, 'audit verdict', p);
export const parseRoundMetrics = (p: Uint8Array | string): RoundMetrics => parseJson(RoundMetricsSchema, 'round metrics', p);

// ---------------------------------------------------------------------------------------------
// The model message on model/current (retained): magic "FWMD" | u8 version 1 | u32 LE manifest
// length | manifest JSON (UTF-8) | u32 LE ONNX length | int8 ONNX bytes | u32 LE params length |
// float32 LE parameters. Gateways run the ONNX and fine-tune from the float parameters (the
// aggregator's float state: fine-tuning from dequantized int8 would lose the small steps that
// averaging accumulates). The manifest is opaque here (models/ validates it); its SHA-256 of the
// ONNX bytes is checked by the receiver, and `paramsSha256` below covers the parameters.
// ---------------------------------------------------------------------------------------------
const MODEL_MAGIC = 0x444d5746; // "FWMD" little-endian
export const MODEL_MESSAGE_VERSION = 1;

export interface ModelMessage {
  /** The model manifest as JSON-ready data (models/ManifestSchema), plus paramsSha256. */
  manifest: Record<string, unknown> & { modelVersion: string; paramsSha256: string };
  onnx: Uint8Array;
  params: Float32Array;
}

export function sha256HexOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function paramsBytes(params: Float32Array): Uint8Array {
  const out = new Uint8Array(params.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < params.length; i++) dv.setFloat32(i * 4, params[i], true);
  return out;
}

export function encodeModelMessage(manifest: Record<string, unknown> & { modelVersion: string }, onnx: Uint8Array, params: Float32Array): Uint8Array {
  const pBytes = paramsBytes(params);
  const m = new TextEncoder().encode(JSON.stringify({ ...manifest, paramsSha256: sha256HexOf(pBytes) }));
  const out = new Uint8Array(4 + 1 + 4 + m.length + 4 + onnx.length + 4 + pBytes.length);
  const dv = new DataView(out.buffer);
  let o = 0;
  dv.setUint32(o, MODEL_MAGIC, true);
  o += 4;
  out[o++] = MODEL_MESSAGE_VERSION;
  for (const part of [m, onnx, pBytes]) {
    dv.setUint32(o, part.length, true);
    o += 4;
    out.set(part, o);
    o += part.length;
  }
  return out;
}

export function decodeModelMessage(bytes: Uint8Array): ModelMessage {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (o: number, n: number, what: string): void => {
    if (o + n > bytes.length) throw new MessageError('model', `truncated in ${what} (needs ${o + n} bytes, has ${bytes.length})`);
  };
  need(0, 5, 'header');
  if (dv.getUint32(0, true) !== MODEL_MAGIC) throw new MessageError('model', 'bad magic (expected "FWMD")');
  if (bytes[4] !== MODEL_MESSAGE_VERSION) throw new MessageError('model', `unsupported version ${bytes[4]}`);
  let o = 5;
  const parts: Uint8Array[] = [];
  for (const what of ['manifest', 'onnx', 'params']) {
    need(o, 4, `${what} length`);
    const n = dv.getUint32(o, true);
    o += 4;
    need(o, n, what);
    parts.push(bytes.subarray(o, o + n));
    o += n;
  }
  if (o !== bytes.length) throw new MessageError('model', `${bytes.length - o} trailing bytes`);
  const [mBytes, onnx, pBytes] = parts;
  let manifest: ModelMessage['manifest'];
  try {
    manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(mBytes));
  } catch (err) {
    throw new MessageError('model', `manifest is not UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof manifest?.modelVersion !== 'string') throw new MessageError('model', 'manifest has no modelVersion');
  if (pBytes.length % 4) throw new MessageError('model', `params length ${pBytes.length} is not a multiple of 4`);
  if (sha256HexOf(pBytes) !== manifest.paramsSha256) throw new MessageError('model', 'params do not match the manifest paramsSha256');
  const params = new Float32Array(pBytes.length / 4);
  const pdv = new DataView(pBytes.buffer, pBytes.byteOffset, pBytes.byteLength);
  for (let i = 0; i < params.length; i++) params[i] = pdv.getFloat32(i * 4, true);
  return { manifest, onnx: onnx.slice(), params };
}
