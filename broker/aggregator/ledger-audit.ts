/**
 * One user's ledger as the auditor receives it, checked incrementally: the same rules and fault
 * kinds as privacy's verifyLedger (chain, index, key, signature, user, delta, accountant,
 * under-claimed epsilon), but each entry is examined once, when it arrives, and epsilon is
 * recomputed once per batch of new entries rather than once per entry: a PRV evaluation costs
 * 0.1–1 s. With RDP (about a millisecond with its cache) every entry's claim is checked exactly; with
 * PRV the batch's last entry is checked exactly and the others against the epsilon before the batch,
 * a lower bound for theirs (epsilon only grows with the history).
 *
 * Then the gateway's retained budget summary is compared with what the ledger says. Pure apart
 * from the accountant it is given.
 */
import { GENESIS_HASH, checkEntryShape, hashEntry, historyOf, keyIdOf, toPublicKey, verifyEntrySignature, type Accountant, type AccountantName, type KeyInput, type LedgerEntry, type MechanismStep } from '../../privacy/index.ts';
import type { AuditVerdict, BudgetSummary } from '../../federation/index.ts';

export interface AuditFault {
  index?: number;
  kind: string;
  detail: string;
}

const TOLERANCE = 1e-9;

export interface VerdictOptions {
  /**
   * A budget summary that names an earlier head of this same chain is "behind": the gateway
   * publishes each ledger entry and then the summary, and the auditor may examine the entry before
   * the summary arrives. While this is true a behind summary is not a fault (the caller sets it for
   * a grace period); afterwards it is `budget-stale`.
   */
  tolerateBehind?: boolean;
  /** Named in the `budget-stale` detail of a summary that stayed behind. */
  graceMs?: number;
}

export class LedgerAudit {
  readonly userId: string;
  /** Entries as received (decoded JSON), in arrival order, duplicates dropped. */
  readonly #raw: unknown[] = [];
  #examined = 0;
  #faults: AuditFault[] = [];
  #hashes: Array<string | undefined> = [];
  /** Chain index → hash of the sound entry there: lets a summary naming an earlier head be recognised. */
  #hashAtIndex = new Map<number, string>();
  /** Chain index → epsilon recomputed after that entry, where it was (every entry with RDP). */
  #epsilonAtIndex = new Map<number, number>();
  #prev: LedgerEntry | null | undefined;
  #spends: MechanismStep[] = [];
  #delta: number | null = null;
  #accountant: AccountantName | null = null;
  #head: { index: number; hash: string } | null = null;
  #goodEntries = 0;
  #epsilon = 0;
  #epsilonSpends = 0;
  #epsilonError: string | null = null;

  constructor(userId: string) {
    this.userId = userId;
  }

  get entries(): number {
    return this.#raw.length;
  }

  /** The accountant the ledger's first readable entry names (what the budget was spent with). */
  get accountantName(): AccountantName | null {
    if (this.#accountant) return this.#accountant;
    for (const r of this.#raw) {
      const c = checkEntryShape(r);
      if (c.ok) return c.entry.spend.accountant;
    }
    return null;
  }

  get pending(): number {
    return this.#raw.length - this.#examined;
  }

  /**
   * Adds a received entry; false when it is an exact copy of one already held at its index (an MQTT
   * QoS 1 redelivery, or a gateway re-sending its ledger after a reconnect).
   */
  add(value: unknown): boolean {
    const c = checkEntryShape(value);
    // The only position an exact copy can hold is its own index.
    if (c.ok && c.entry.index < this.#raw.length && sameEntry(this.#raw[c.entry.index], c.entry)) return false;
    this.#raw.push(value);
    return true;
  }

  /** Examines the entries added since the last call and recomputes epsilon once for them. */
  examine(accountant: Accountant, publicKey: KeyInput | null): void {
    if (this.#examined === this.#raw.length) return;
    const key = publicKey === null ? null : toPublicKey(publicKey);
    const keyId = key ? keyIdOf(key) : null;
    const perEntry = accountant.name === 'rdp';
    const lowerBound = this.#epsilon;
    let lastGood: { i: number; entry: LedgerEntry } | null = null;

    for (let i = this.#examined; i < this.#raw.length; i++) {
      const check = checkEntryShape(this.#raw[i]);
      if (!check.ok) {
        this.#fault(i, check.kind, check.detail);
        this.#hashes[i] = undefined;
        this.#prev = null;
        continue;
      }
      const e = check.entry;
      const hash = hashEntry(e);
      if (i === 0) {
        if (e.index !== 0) this.#fault(i, 'index-gap', `first entry has index ${e.index}, expected 0 (entries before it are missing)`);
        if (e.prevHash !== GENESIS_HASH) this.#fault(i, 'broken-chain', `first entry's prevHash is ${e.prevHash}, expected the genesis hash (64 zeros)`);
      } else if (this.#prev) {
        const p = this.#prev;
        if (e.index > p.index + 1) this.#fault(i, 'index-gap', `index ${e.index} follows index ${p.index}: ${e.index - p.index - 1} entr${e.index - p.index === 2 ? 'y' : 'ies'} missing`);
        else if (e.index <= p.index) this.#fault(i, 'index-out-of-order', `index ${e.index} follows index ${p.index}`);
        if (e.prevHash !== this.#hashes[i - 1]) this.#fault(i, 'broken-chain', `prevHash ${e.prevHash} is not the hash of the entry before it (${this.#hashes[i - 1]})`);
      }
      if (key && keyId) {
        if (e.keyId !== keyId) this.#fault(i, 'key-mismatch', `signed by key ${e.keyId}, the gateway's registered key is ${keyId}`);
        else if (!verifyEntrySignature(e, key)) this.#fault(i, 'bad-signature', 'Ed25519 signature does not verify over the canonical entry');
      }
      if (e.userId !== this.userId) this.#fault(i, 'user-mismatch', `userId ${e.userId} in the ledger of ${this.userId}`);
      this.#delta ??= e.spend.delta;
      this.#accountant ??= e.spend.accountant;
      if (e.spend.delta !== this.#delta) this.#fault(i, 'delta-mismatch', `spend at delta ${e.spend.delta}, the ledger's delta is ${this.#delta}`);
      // Every readable spend counts, faulty entry or not: counting can only raise epsilon.
      this.#spends.push(e.spend);
      if (e.spend.accountant !== accountant.name) {
        this.#fault(i, 'accountant-mismatch', `epsilonAfter was computed with ${e.spend.accountant}, verifying with ${accountant.name}`);
      } else if (perEntry) {
        const eps = this.#recompute(accountant);
        this.#checkClaim(i, e, eps);
        if (eps !== null) this.#epsilonAtIndex.set(e.index, eps);
      } else {
        lastGood = { i, entry: e };
        if (e.epsilonAfter < lowerBound - TOLERANCE * Math.max(1, lowerBound)) {
          this.#fault(i, 'under-claimed-epsilon', `claims epsilonAfter ${e.epsilonAfter}, below the ${lowerBound} the entries before it already give (${accountant.name}, delta ${e.spend.delta})`);
        }
      }
      this.#hashes[i] = hash;
      this.#hashAtIndex.set(e.index, hash);
      this.#head = { index: e.index, hash };
      this.#goodEntries++;
      this.#prev = e;
    }
    this.#examined = this.#raw.length;
    if (!perEntry && lastGood) {
      const eps = this.#recompute(accountant);
      this.#checkClaim(lastGood.i, lastGood.entry, eps);
      if (eps !== null) this.#epsilonAtIndex.set(lastGood.entry.index, eps);
    } else if (this.#epsilonSpends !== this.#spends.length) this.#recompute(accountant);
  }

  /**
   * How many entries of this chain the summary does not cover yet, when it names an earlier head
   * of the same chain (its count and hash match the sound entry at that index); 0 otherwise
   * (current, ahead, or naming a head this chain does not have).
   */
  budgetBehind(budget: BudgetSummary | undefined): number {
    const head = this.#head;
    if (!budget || head === null || budget.entries >= head.index + 1) return 0;
    const named = budget.entries === 0 ? GENESIS_HASH : this.#hashAtIndex.get(budget.entries - 1);
    return named === budget.lastEntryHash ? head.index + 1 - budget.entries : 0;
  }

  /** The verdict now, against the gateway's retained budget summary if one was seen. */
  verdict(budget: BudgetSummary | undefined, budgetProblem: string | undefined, publicKeyProblem: string | undefined, checkedAt: Date, opts: VerdictOptions = {}): AuditVerdict {
    if (this.pending > 0) throw new Error(`ledger of ${this.userId}: ${this.pending} entries not examined yet`);
    const faults = [...this.#faults];
    if (this.#epsilonError) faults.push({ kind: 'epsilon-unverifiable', detail: this.#epsilonError });
    if (publicKeyProblem) faults.push({ kind: 'no-public-key', detail: publicKeyProblem });
    if (budgetProblem) faults.push({ kind: 'budget-malformed', detail: budgetProblem });
    const eps = this.#epsilon;
    const behind = this.budgetBehind(budget);
    if (budget) {
      if (budget.userId !== this.userId) faults.push({ kind: 'budget-mismatch', detail: `budget summary is for user ${budget.userId}` });
      if (this.#accountant && budget.accountant !== this.#accountant) faults.push({ kind: 'budget-mismatch', detail: `budget summary uses ${budget.accountant}, the ledger ${this.#accountant}` });
      if (this.#delta !== null && budget.delta !== this.#delta) faults.push({ kind: 'budget-mismatch', detail: `budget summary is at delta ${budget.delta}, the ledger at ${this.#delta}` });
      const head = this.#head;
      const headMatches = head !== null ? budget.entries === head.index + 1 && budget.lastEntryHash === head.hash : budget.entries === 0 && budget.lastEntryHash === GENESIS_HASH;
      if (budget.entries > this.#raw.length) {
        faults.push({ kind: 'budget-ahead-of-ledger', detail: `budget summary counts ${budget.entries} entries, the auditor has received ${this.#raw.length}` });
      } else if (behind > 0 && opts.tolerateBehind) {
        // Not a fault yet; its claim is still checked against the epsilon at the head it names,
        // where that is known (every entry with RDP, batch ends with PRV).
        const then = budget.entries === 0 ? 0 : this.#epsilonAtIndex.get(budget.entries - 1);
        if (then !== undefined && budget.epsilonSpent < then - TOLERANCE * Math.max(1, then)) {
          faults.push({ kind: 'budget-under-claimed', detail: `budget summary says epsilon ${budget.epsilonSpent} spent after ${budget.entries} entries, the ledger gives ${then} there` });
        }
      } else if (!headMatches) {
        faults.push({ kind: 'budget-stale', detail: behind > 0
          ? `budget summary covers ${budget.entries} of the ledger's ${budget.entries + behind} entries and was not brought up to date${opts.graceMs === undefined ? '' : ` within ${opts.graceMs} ms`}`
          : `budget summary names ${budget.entries} entries ending in ${budget.lastEntryHash}, the ledger's head is ${head ? `entry ${head.index} (${head.hash})` : 'empty'}` });
      } else if (budget.epsilonSpent < eps - TOLERANCE * Math.max(1, eps)) {
        faults.push({ kind: 'budget-under-claimed', detail: `budget summary says epsilon ${budget.epsilonSpent} spent, the ledger gives ${eps}` });
      }
      if (eps > budget.epsilonMax * (1 + TOLERANCE)) faults.push({ kind: 'over-budget', detail: `epsilon ${eps} exceeds the user's budget ${budget.epsilonMax}` });
    }
    return {
      v: 1,
      userId: this.userId,
      ok: faults.length === 0,
      epsilonRecomputed: Number.isFinite(eps) ? eps : Number.MAX_VALUE,
      ...(budget ? { epsilonClaimed: budget.epsilonSpent, epsilonMax: budget.epsilonMax } : {}),
      accountant: this.#accountant ?? budget?.accountant ?? 'rdp',
      delta: this.#delta ?? budget?.delta ?? 0,
      entries: this.#raw.length,
      ...(this.#head ? { head: this.#head } : {}),
      ...(behind > 0 ? { budgetBehind: behind } : {}),
      faults: faults.sort((a, b) => (a.index ?? Infinity) - (b.index ?? Infinity)),
      checkedAt: checkedAt.toISOString(),
    };
  }

  #fault(index: number, kind: string, detail: string): void {
    this.#faults.push({ index, kind, detail });
  }

  #checkClaim(i: number, e: LedgerEntry, recomputed: number | null): void {
    if (recomputed === null) return;
    if (e.epsilonAfter < recomputed - TOLERANCE * Math.max(1, recomputed)) {
      this.#fault(i, 'under-claimed-epsilon', `claims epsilonAfter ${e.epsilonAfter}, the spends up to here give ${recomputed} (${this.#accountant}, delta ${e.spend.delta})`);
    }
  }

  /** Epsilon of every spend so far at the ledger's delta; null (and a fault) if the accountant throws. */
  #recompute(accountant: Accountant): number | null {
    if (this.#spends.length === 0 || this.#delta === null) return 0;
    try {
      const { epsilon } = accountant.epsilon(historyOf(this.#spends), this.#delta);
      if (Number.isNaN(epsilon)) throw new Error('epsilon is NaN');
      this.#epsilon = epsilon;
      this.#epsilonError = null;
    } catch (err) {
      this.#epsilon = Number.POSITIVE_INFINITY;
      this.#epsilonError = `accountant ${accountant.name} failed on ${this.#spends.length} spends: ${(err as Error).message}`;
      return null;
    } finally {
      this.#epsilonSpends = this.#spends.length;
    }
    return this.#epsilon;
  }
}

function sameEntry(raw: unknown, entry: LedgerEntry): boolean {
  const c = checkEntryShape(raw);
  return c.ok && hashEntry(c.entry) === hashEntry(entry);
}
