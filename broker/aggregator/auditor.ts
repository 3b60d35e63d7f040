/**
 * The privacy auditor: keeps every user's ledger as received on privacy/<userId>/ledger (one entry
 * per message, its canonical JSON), each entry fsynced to `dataDir/audit/<userId>.ledger.jsonl`
 * before it is acknowledged, and the latest retained privacy/<userId>/budget summary. After each
 * batch of new messages it re-examines the user (ledger-audit.ts) and publishes a retained verdict on
 * audit/<userId>. On restart the chains are read back, so nothing received is lost.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { parseBudgetSummary, type AuditVerdict, type BudgetSummary } from '../../federation/index.ts';
import { loadAccountant, type Accountant, type AccountantName, type KeyInput } from '../../privacy/index.ts';
import { isValidId, topics } from '../topics.ts';
import type { AggregatorConfig } from './config.ts';
import { Journal, writeFileDurably } from './journal.ts';
import { LedgerAudit } from './ledger-audit.ts';

export interface AuditorOptions {
  dir: string;
  /** The Ed25519 key of the gateway holding this user's data (credentials file), or null if none is registered. */
  publicKeyOf(userId: string): KeyInput | null;
  publish(userId: string, verdict: AuditVerdict): Promise<void>;
  log: Logger;
  now?: () => number;
  /**
   * How long a budget summary may stay behind the ledger (naming an earlier head of the same
   * chain) before it is the fault `budget-stale`. Default 30 s.
   */
  budgetGraceMs?: number;
}

export const DEFAULT_BUDGET_GRACE_MS = 30_000;

interface UserState {
  audit: LedgerAudit;
  journal: Journal;
  budget?: BudgetSummary;
  budgetProblem?: string;
  verdict?: AuditVerdict;
  scheduled: boolean;
  /** Since when (ms, opts.now clock) the budget summary has been behind the ledger. */
  behindSince?: number;
  /** Re-examines the user when the grace of a behind summary runs out. */
  graceTimer?: NodeJS.Timeout;
}

export class PrivacyAuditor {
  readonly #opts: AuditorOptions;
  readonly #users = new Map<string, UserState>();
  readonly #accountants = new Map<AccountantName, Promise<Accountant>>();
  #evaluating: Promise<void> = Promise.resolve();
  #closed = false;
  #listeners: Array<(v: AuditVerdict) => void> = [];

  constructor(opts: AuditorOptions) {
    this.#opts = opts;
    fs.mkdirSync(opts.dir, { recursive: true });
  }

  /** Reads back every stored chain and budget and publishes fresh verdicts. */
  async restore(): Promise<number> {
    const users = new Set<string>();
    for (const name of fs.readdirSync(this.#opts.dir)) {
      const m = /^(.+)\.(ledger\.jsonl|budget\.json)$/.exec(name);
      if (m && isValidId(m[1])) users.add(m[1]);
    }
    for (const userId of users) {
      const u = this.#user(userId);
      const budgetFile = path.join(this.#opts.dir, `${userId}.budget.json`);
      if (fs.existsSync(budgetFile)) {
        try {
          u.budget = parseBudgetSummary(fs.readFileSync(budgetFile));
        } catch (err) {
          u.budgetProblem = (err as Error).message;
        }
      }
      this.#schedule(userId, u);
    }
    await this.settled();
    return users.size;
  }

  onVerdict(listener: (v: AuditVerdict) => void): void {
    this.#listeners.push(listener);
  }

  verdictOf(userId: string): AuditVerdict | undefined {
    return this.#users.get(userId)?.verdict;
  }

  /** Why a user's updates should be refused, or undefined: its last verdict was not ok. */
  refusal(userId: string): string | undefined {
    const v = this.verdictOf(userId);
    if (!v || v.ok) return undefined;
    const kinds = [...new Set(v.faults.map((f) => f.kind))].join(', ');
    return `the privacy audit of user ${userId}'s ledger found: ${kinds}`;
  }

  /** One ledger message. Resolves when it is durably stored (it may then be acknowledged). */
  async ledgerEntry(userId: string, payload: Uint8Array): Promise<void> {
    if (this.#closed) throw new Error('auditor is closed');
    const u = this.#user(userId);
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(payload).toString('utf8'));
    } catch {
      // Kept as text: it still occupies a position in the ledger, and the verdict names it malformed.
      value = Buffer.from(payload).toString('utf8');
    }
    if (!u.audit.add(value)) return;
    await u.journal.append(value);
    this.#schedule(userId, u);
  }

  /** One (retained) budget summary. */
  async budget(userId: string, payload: Uint8Array): Promise<void> {
    if (this.#closed) return;
    const u = this.#user(userId);
    if (payload.length === 0) return; // a cleared retained message
    try {
      u.budget = parseBudgetSummary(payload);
      u.budgetProblem = undefined;
    } catch (err) {
      u.budget = undefined;
      u.budgetProblem = (err as Error).message;
    }
    writeFileDurably(path.join(this.#opts.dir, `${userId}.budget.json`), Buffer.from(payload));
    this.#schedule(userId, u);
  }

  /** Resolves when every scheduled evaluation has been published. */
  async settled(): Promise<void> {
    let last: Promise<void> | undefined;
    while (last !== this.#evaluating) {
      last = this.#evaluating;
      await last;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const u of this.#users.values()) clearTimeout(u.graceTimer);
    await this.settled();
    await Promise.all([...this.#users.values()].map((u) => u.journal.close()));
  }

  #user(userId: string): UserState {
    let u = this.#users.get(userId);
    if (!u) {
      if (!isValidId(userId)) throw new RangeError(`user id ${JSON.stringify(userId)} is not a valid id`);
      const { journal, records } = Journal.open(path.join(this.#opts.dir, `${userId}.ledger.jsonl`));
      const audit = new LedgerAudit(userId);
      for (const r of records) audit.add(r);
      u = { audit, journal, scheduled: false };
      this.#users.set(userId, u);
    }
    return u;
  }

  /** Evaluations run one at a time; messages arriving meanwhile join the next batch. */
  #schedule(userId: string, u: UserState): void {
    if (u.scheduled) return;
    u.scheduled = true;
    this.#evaluating = this.#evaluating.then(async () => {
      await new Promise<void>((r) => setImmediate(r));
      u.scheduled = false;
      try {
        await this.#evaluate(userId, u);
      } catch (err) {
        this.#opts.log.error({ err, userId }, 'privacy audit failed');
      }
    });
  }

  async #evaluate(userId: string, u: UserState): Promise<void> {
    const name = u.audit.accountantName ?? u.budget?.accountant ?? 'rdp';
    const accountant = await this.#accountant(name);
    const key = this.#opts.publicKeyOf(userId);
    u.audit.examine(accountant, key);
    const now = this.#opts.now?.() ?? Date.now();
    const graceMs = this.#opts.budgetGraceMs ?? DEFAULT_BUDGET_GRACE_MS;
    const tolerateBehind = this.#trackBehind(userId, u, now, graceMs);
    const verdict = u.audit.verdict(u.budget, u.budgetProblem, key === null ? `no Ed25519 public key is registered for user ${userId}'s gateway: signatures cannot be checked` : undefined, new Date(now), { tolerateBehind, graceMs });
    u.verdict = verdict;
    if (!verdict.ok) this.#opts.log.warn({ userId, faults: verdict.faults }, 'privacy audit: faulty ledger');
    else this.#opts.log.debug({ userId, epsilon: verdict.epsilonRecomputed, entries: verdict.entries }, 'privacy audit: ok');
    await this.#opts.publish(userId, verdict);
    for (const l of this.#listeners) l(verdict);
  }

  /**
   * A summary behind the ledger is tolerated for graceMs from when it was first seen behind; a
   * timer re-examines the user when the grace ends, so a summary that never catches up becomes a
   * `budget-stale` verdict without waiting for another message.
   */
  #trackBehind(userId: string, u: UserState, now: number, graceMs: number): boolean {
    if (u.audit.budgetBehind(u.budget) === 0) {
      u.behindSince = undefined;
      clearTimeout(u.graceTimer);
      u.graceTimer = undefined;
      return false;
    }
    u.behindSince ??= now;
    const left = u.behindSince + graceMs - now;
    if (left <= 0) return false;
    if (!u.graceTimer && !this.#closed) {
      u.graceTimer = setTimeout(() => {
        u.graceTimer = undefined;
        if (!this.#closed) this.#schedule(userId, u);
      }, left);
      u.graceTimer.unref();
    }
    return true;
  }

  #accountant(name: AccountantName): Promise<Accountant> {
    let a = this.#accountants.get(name);
    if (!a) this.#accountants.set(name, (a = loadAccountant(name)));
    return a;
  }
}

/**
 * The auditor as an aggregator runs it (a single aggregator, or the root of shards): disabled by
 * `audit.enabled: false`; verdicts retained on audit/<userId>; keys looked up at each use, so a
 * credentials reload applies.
 */
export function aggregatorAuditor(o: {
  config: AggregatorConfig;
  publicKeyOf(userId: string): KeyInput | null;
  publish(topic: string, payload: string, opts: { retain: boolean }): Promise<void>;
  log: Logger;
  now: () => number;
  onVerdict(v: AuditVerdict): void;
}): PrivacyAuditor | undefined {
  if (!o.config.audit.enabled) return undefined;
  const auditor = new PrivacyAuditor({
    dir: path.join(o.config.dataDir, 'audit'),
    publicKeyOf: o.publicKeyOf,
    publish: (userId, verdict) => o.publish(topics.audit(userId), JSON.stringify(verdict), { retain: true }),
    log: o.log,
    now: o.now,
    budgetGraceMs: o.config.audit.budgetGraceMs,
  });
  auditor.onVerdict(o.onVerdict);
  return auditor;
}
