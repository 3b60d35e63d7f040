/**
 * Auditing a ledger: pure, over plain data. Recomputes epsilon from the spends, checks the chain and
 * every signature, and names each entry that is wrong and why. Nothing is trusted from an entry
 * except its spend, and the spend is only trusted because it is signed.
 */
import type { Accountant, AccountantName, MechanismStep } from '../types.ts';
import { historyOf } from './chain.ts';
import { hashEntry, keyIdOf, toPublicKey, verifyEntrySignature, type KeyInput } from './crypto.ts';
import { GENESIS_HASH, checkEntryShape, type EntryCheck, type LedgerEntry } from './entry.ts';
import { parseLedgerText, type ParsedLedger, type TornTail } from './parse.ts';

export type LedgerFaultKind =
  | 'malformed'
  | 'unsupported-version'
  | 'index-gap'
  | 'index-out-of-order'
  | 'broken-chain'
  | 'key-mismatch'
  | 'bad-signature'
  | 'under-claimed-epsilon'
  | 'epsilon-unverifiable'
  | 'accountant-mismatch'
  | 'delta-mismatch'
  | 'user-mismatch'
  | 'rollback';

export interface LedgerFault {
  /** 0-based position in the ledger (equals the entry's own index in a sound ledger). */
  index: number;
  /** 1-based line in the file, when verified from text. */
  line?: number;
  kind: LedgerFaultKind;
  detail: string;
}

/** What an auditor remembers between audits to detect a ledger that was cut short or rewritten. */
export interface LedgerHead {
  index: number;
  hash: string;
}

export interface VerifyLedgerOptions {
  /** The gateway's Ed25519 public key; null skips signature checks (the verdict says so). */
  publicKey: KeyInput | null;
  /** Recomputes epsilon; entries that name another accountant are faults. */
  accountant: Accountant;
  /** The delta of the user's budget; defaults to the first entry's. Every entry must use it. */
  delta?: number;
  /** A head seen in an earlier audit: the ledger must still contain it unchanged. */
  knownHead?: LedgerHead;
  /** Relative slack on the under-claim check, for float noise only (default 1e-9). */
  epsilonTolerance?: number;
}

export interface LedgerVerdict {
  ok: boolean;
  /** Entries examined (terminated lines, when from text). */
  entries: number;
  faults: LedgerFault[];
  /** Epsilon recomputed over every well-formed spend, at `delta`. */
  epsilon: number;
  delta: number | null;
  accountant: AccountantName;
  /** The last well-formed entry's epsilonAfter. */
  claimedEpsilon: number | null;
  signaturesChecked: boolean;
  keyId: string | null;
  /** Index and hash of the last well-formed entry: store it and pass it as knownHead next time. */
  head: LedgerHead | null;
  /** Set when verified from text whose last line was never terminated (ignored, see parse.ts). */
  tornTail?: TornTail;
}

/** Verifies decoded JSON values (e.g. entries received on the ledger topic). */
export function verifyLedger(entries: readonly unknown[], options: VerifyLedgerOptions): LedgerVerdict {
  return verifyChecks(entries.map((e) => checkEntryShape(e)), options);
}

/** Verifies a ledger file's contents; faults carry line numbers and a torn tail is reported, not counted. */
export function verifyLedgerText(text: string | Uint8Array, options: VerifyLedgerOptions): LedgerVerdict {
  return verifyParsedLedger(parseLedgerText(text), options);
}

export function verifyParsedLedger(parsed: ParsedLedger, options: VerifyLedgerOptions): LedgerVerdict {
  const verdict = verifyChecks(parsed.lines.map((l) => l.check), options, (i) => parsed.lines[i].line);
  if (parsed.tornTail) verdict.tornTail = parsed.tornTail;
  return verdict;
}

function verifyChecks(checks: readonly EntryCheck[], options: VerifyLedgerOptions, lineOf?: (i: number) => number): LedgerVerdict {
  const { accountant } = options;
  const tolerance = options.epsilonTolerance ?? 1e-9;
  if (options.delta !== undefined && !(options.delta > 0 && options.delta < 1)) {
    throw new RangeError(`delta must be in (0, 1), got ${options.delta}`);
  }
  if (!(tolerance >= 0 && tolerance < 1e-3)) throw new RangeError(`epsilonTolerance must be in [0, 1e-3), got ${tolerance}`);
  const publicKey = options.publicKey === null ? null : toPublicKey(options.publicKey);
  const keyId = publicKey ? keyIdOf(publicKey) : null;

  const faults: LedgerFault[] = [];
  const fault = (index: number, kind: LedgerFaultKind, detail: string): void => {
    const line = index < checks.length ? lineOf?.(index) : undefined;
    faults.push(line !== undefined ? { index, line, kind, detail } : { index, kind, detail });
  };

  const firstGood = checks.find((c): c is { ok: true; entry: LedgerEntry } => c.ok)?.entry;
  const delta = options.delta ?? firstGood?.spend.delta ?? null;
  const userId = firstGood?.userId;

  const spends: MechanismStep[] = [];
  // The previous position's entry, or null when that position was unreadable (chain and index
  // checks resume at the next readable pair rather than cascading one fault down the file).
  let prev: LedgerEntry | null | undefined;
  let head: LedgerHead | null = null;
  let claimedEpsilon: number | null = null;
  const hashes = new Map<number, string>();
  // The last recomputation, reused for the total when it covers the same spends at the same delta
  // (a PRV evaluation can take a second).
  let last: { spends: number; delta: number; epsilon: number | string } | null = null;

  for (const [i, check] of checks.entries()) {
    if (!check.ok) {
      fault(i, check.kind, check.detail);
      prev = null;
      continue;
    }
    const e = check.entry;
    const hash = hashEntry(e);

    // Chain: position 0 must be genesis; afterwards index + 1 and the previous entry's hash.
    if (i === 0) {
      if (e.index !== 0) fault(i, 'index-gap', `first entry has index ${e.index}, expected 0 (entries before it are missing)`);
      if (e.prevHash !== GENESIS_HASH) fault(i, 'broken-chain', `first entry's prevHash is ${e.prevHash}, expected the genesis hash (64 zeros)`);
    } else if (prev) {
      if (e.index > prev.index + 1) fault(i, 'index-gap', `index ${e.index} follows index ${prev.index}: ${e.index - prev.index - 1} entr${e.index - prev.index === 2 ? 'y' : 'ies'} missing`);
      else if (e.index <= prev.index) fault(i, 'index-out-of-order', `index ${e.index} follows index ${prev.index}`);
      const prevHash = hashes.get(i - 1);
      if (e.prevHash !== prevHash) fault(i, 'broken-chain', `prevHash ${e.prevHash} is not the hash of the entry before it (${prevHash})`);
    }

    if (keyId !== null && publicKey !== null) {
      if (e.keyId !== keyId) fault(i, 'key-mismatch', `signed by key ${e.keyId}, verifying with key ${keyId}`);
      else if (!verifyEntrySignature(e, publicKey)) fault(i, 'bad-signature', 'Ed25519 signature does not verify over the canonical entry');
    }

    if (e.userId !== userId) fault(i, 'user-mismatch', `userId ${e.userId} in the ledger of ${userId}`);
    if (delta !== null && e.spend.delta !== delta) fault(i, 'delta-mismatch', `spend at delta ${e.spend.delta}, the ledger's delta is ${delta}`);

    // Every spend counts toward the total, whatever else is wrong with its entry: counting a spend
    // can only raise epsilon, so the recomputed total stays an over-count (design.md, "a crash can
    // only over-count").
    spends.push(e.spend);
    if (e.spend.accountant !== accountant.name) {
      fault(i, 'accountant-mismatch', `epsilonAfter was computed with ${e.spend.accountant}, verifying with ${accountant.name}`);
    } else {
      const recomputed = tryEpsilon(accountant, historyOf(spends), e.spend.delta);
      last = { spends: spends.length, delta: e.spend.delta, epsilon: recomputed };
      if (typeof recomputed === 'string') {
        fault(i, 'epsilon-unverifiable', `accountant ${accountant.name} failed: ${recomputed}`);
      } else if (e.epsilonAfter < recomputed - tolerance * Math.max(1, recomputed)) {
        // Under-claiming is a fault; over-claiming is allowed (it is conservative).
        fault(i, 'under-claimed-epsilon', `claims epsilonAfter ${e.epsilonAfter}, the spends up to here give ${recomputed} (${accountant.name}, delta ${e.spend.delta})`);
      }
    }

    hashes.set(i, hash);
    head = { index: e.index, hash };
    claimedEpsilon = e.epsilonAfter;
    prev = e;
  }

  if (options.knownHead) {
    const known = options.knownHead;
    const at = checks.findIndex((c) => c.ok && c.entry.index === known.index);
    if (at < 0) fault(checks.length, 'rollback', `an earlier audit saw entry ${known.index}; the ledger no longer contains it`);
    else if (hashes.get(at) !== known.hash) fault(at, 'rollback', `entry ${known.index} differs from the one an earlier audit saw (hash ${hashes.get(at)}, was ${known.hash})`);
  }

  let epsilon = 0;
  if (spends.length > 0 && delta !== null) {
    const total = last && last.spends === spends.length && last.delta === delta ? last.epsilon : tryEpsilon(accountant, historyOf(spends), delta);
    if (typeof total === 'string') {
      fault(checks.length - 1, 'epsilon-unverifiable', `accountant ${accountant.name} failed on the whole ledger: ${total}`);
      epsilon = Number.POSITIVE_INFINITY;
    } else epsilon = total;
  }

  faults.sort((a, b) => a.index - b.index);
  return {
    ok: faults.length === 0,
    entries: checks.length,
    faults,
    epsilon,
    delta,
    accountant: accountant.name,
    claimedEpsilon,
    signaturesChecked: publicKey !== null,
    keyId,
    head,
  };
}

function tryEpsilon(accountant: Accountant, history: MechanismStep[], delta: number): number | string {
  try {
    const { epsilon } = accountant.epsilon(history, delta);
    return Number.isNaN(epsilon) ? 'epsilon is NaN' : epsilon;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
