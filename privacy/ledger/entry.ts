/**
 * The ledger entry, version 1: one JSON line per spend. The schema is strict (unknown members are
 * refused) because every member is covered by the signature and an auditor must understand all of
 * what was signed.
 */
import { z } from 'zod';
import type { AccountantName } from '../types.ts';

export const LEDGER_VERSION = 1;
/** prevHash of the first entry: there is no previous entry to hash. */
export const GENESIS_HASH = '0'.repeat(64);

/** One privacy spend: a run of DP-SGD steps with a fixed (sigma, q), as the accountant sees it, plus C. */
export interface LedgerSpend {
  noiseMultiplier: number;
  sampleRate: number;
  steps: number;
  maxGradNorm: number;
  delta: number;
  accountant: AccountantName;
}

export interface UnsignedLedgerEntry {
  v: typeof LEDGER_VERSION;
  index: number;
  prevHash: string;
  userId: string;
  deviceId: string;
  keyId: string;
  time: string;
  modelVersion: string;
  round: number;
  spend: LedgerSpend;
  epsilonAfter: number;
}

export interface LedgerEntry extends UnsignedLedgerEntry {
  /** Ed25519 signature, standard base64 (64 bytes), over signingBytes(entry without signature). */
  signature: string;
}

// Identifiers are printable ASCII without spaces: no Unicode normalisation questions in the
// canonical form, and nothing that can forge a line break in logs.
const ident = z.string().regex(/^[\x21-\x7E]{1,128}$/, 'must be 1-128 printable ASCII characters without spaces');
const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');

export const LedgerSpendSchema = z.strictObject({
  // sigma = 0 would mean epsilon = infinity, which JSON cannot record; no such spend is loggable.
  noiseMultiplier: z.number().positive(),
  sampleRate: z.number().gt(0).lte(1),
  steps: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  maxGradNorm: z.number().positive(),
  delta: z.number().gt(0).lt(1),
  accountant: z.enum(['rdp', 'prv']),
});

export const LedgerEntrySchema = z.strictObject({
  v: z.literal(LEDGER_VERSION),
  index: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  prevHash: hex64,
  userId: ident,
  deviceId: ident,
  keyId: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lowercase hex digits'),
  time: z.iso.datetime(),
  modelVersion: ident,
  round: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  spend: LedgerSpendSchema,
  epsilonAfter: z.number().nonnegative(),
  signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'must be a base64 Ed25519 signature (64 bytes)'),
});

export type EntryCheck =
  | { ok: true; entry: LedgerEntry }
  | { ok: false; kind: 'malformed' | 'unsupported-version'; detail: string };

/** Validates one decoded JSON value as a ledger entry; the detail names every offending field. */
export function checkEntryShape(value: unknown): EntryCheck {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, kind: 'malformed', detail: 'not a JSON object' };
  }
  const v = (value as { v?: unknown }).v;
  if (v !== LEDGER_VERSION) {
    return { ok: false, kind: 'unsupported-version', detail: `v is ${JSON.stringify(v) ?? 'missing'}; this reader knows version ${LEDGER_VERSION}` };
  }
  const parsed = LedgerEntrySchema.safeParse(value);
  if (parsed.success) return { ok: true, entry: parsed.data as LedgerEntry };
  const detail = parsed.error.issues
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
  return { ok: false, kind: 'malformed', detail };
}
