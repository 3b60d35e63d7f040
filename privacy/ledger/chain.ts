/** Building the chain: the accountant history a ledger implies, and appending one signed entry. */
import type { Accountant, MechanismStep } from '../types.ts';
import { hashEntry, keyIdOf, signEntry, type KeyInput } from './crypto.ts';
import { GENESIS_HASH, LEDGER_VERSION, LedgerSpendSchema, checkEntryShape, type LedgerEntry, type LedgerSpend, type UnsignedLedgerEntry } from './entry.ts';

/**
 * The accountant history of a list of spends, run-length merged the way Opacus's accountants merge
 * consecutive identical (noise_multiplier, sample_rate) steps (shared/notes/opacus.md §2: "consecutive identical
 * steps are merged"). Writer and verifier both use this function, so they feed the accountant the
 * same history and get bit-identical epsilons.
 */
export function historyOf(spends: Iterable<Pick<LedgerSpend, 'noiseMultiplier' | 'sampleRate' | 'steps'>>): MechanismStep[] {
  const out: MechanismStep[] = [];
  for (const s of spends) {
    const last = out[out.length - 1];
    if (last && last.noiseMultiplier === s.noiseMultiplier && last.sampleRate === s.sampleRate) last.steps += s.steps;
    else out.push({ noiseMultiplier: s.noiseMultiplier, sampleRate: s.sampleRate, steps: s.steps });
  }
  return out;
}

export function historyFromEntries(entries: readonly LedgerEntry[]): MechanismStep[] {
  return historyOf(entries.map((e) => e.spend));
}

/** Everything about a spend the caller decides; index, chain, key id, epsilon and signature are derived. */
export interface EntryDraft {
  userId: string;
  deviceId: string;
  /** ISO 8601 UTC, e.g. new Date().toISOString(). */
  time: string;
  modelVersion: string;
  round: number;
  spend: Omit<LedgerSpend, 'accountant'>;
}

export interface Signer {
  privateKey: KeyInput;
  accountant: Accountant;
}

/**
 * Returns the entry that extends `entries` with `draft`: index = previous + 1, prevHash = hash of the
 * previous entry, epsilonAfter = the accountant over the whole history including this spend.
 * Pure (Ed25519 is deterministic). Throws, naming the field, if the result would not be a valid entry.
 */
export function appendEntry(entries: readonly LedgerEntry[], draft: EntryDraft, signer: Signer): LedgerEntry {
  const prev = entries[entries.length - 1];
  const spend: LedgerSpend = { ...draft.spend, accountant: signer.accountant.name };
  // Checked before the accountant sees it, so a bad spend is named as such, not as an accountant error.
  const spendCheck = LedgerSpendSchema.safeParse(spend);
  if (!spendCheck.success) {
    throw new TypeError(`invalid ledger entry: ${spendCheck.error.issues.map((i) => `spend.${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const history = historyOf([...entries.map((e) => e.spend), spend]);
  const report = signer.accountant.epsilon(history, spend.delta);
  if (!Number.isFinite(report.epsilon) || report.epsilon < 0) {
    throw new RangeError(`accountant ${signer.accountant.name} gave epsilon ${report.epsilon} for this spend; a ledger can only record a finite epsilon`);
  }
  const unsigned: UnsignedLedgerEntry = {
    v: LEDGER_VERSION,
    index: prev ? prev.index + 1 : 0,
    prevHash: prev ? hashEntry(prev) : GENESIS_HASH,
    userId: draft.userId,
    deviceId: draft.deviceId,
    keyId: keyIdOf(signer.privateKey),
    time: draft.time,
    modelVersion: draft.modelVersion,
    round: draft.round,
    spend,
    epsilonAfter: report.epsilon,
  };
  const entry = signEntry(unsigned, signer.privateKey);
  const check = checkEntryShape(entry);
  if (!check.ok) throw new TypeError(`invalid ledger entry: ${check.detail}`);
  return entry;
}
