/**
 * Pure rules the service applies to rounds and to what it publishes about them: the training
 * parameters a round announcement implies, whether an update still in the outbox may be sent after
 * newer rounds were announced, and the privacy messages (ledger line, budget summary).
 */
import { BudgetSummarySchema, type BudgetSummary, type RoundAnnouncement } from '../../federation/index.ts';
import { GENESIS_HASH, canonicalize, hashEntry, type AccountantName, type LedgerEntry } from '../../privacy/index.ts';
import type { RoundTrainingParameters } from '../training/index.ts';

/** rounds/current → what fineTuneRound needs. The round fixes q and steps (not a batch size). */
export function roundTrainingParameters(a: RoundAnnouncement): RoundTrainingParameters {
  const t = a.training;
  return {
    round: a.roundId,
    ...(t.noiseMultiplier !== undefined ? { noiseMultiplier: t.noiseMultiplier } : { epsilonPerRound: t.epsilonPerRound as number }),
    maxGradNorm: t.maxGradNorm,
    sampleRate: t.sampleRate,
    steps: t.steps,
    delta: t.delta,
    accountant: t.accountant,
    mu: t.mu,
    lr: t.lr,
    optimizer: t.optimizer,
  };
}

/** The rules of the round an update was trained for, as the outbox keeps them. */
export interface UpdateRoundRules {
  roundId: number;
  mode: 'sync' | 'buffered';
  maxStaleness: number;
  deadlineMs: number;
}

export type StaleDecision = { send: true; staleness: number } | { send: false; reason: 'round-closed' | 'deadline-passed' | 'too-stale'; detail: string };

/**
 * May an update trained for `update`'s round still be sent, given the newest announcement this
 * gateway knows of? sync: only while its own round is open (not superseded, deadline not passed).
 * buffered: while it is at most maxStaleness rounds behind (the newest round's maxStaleness: that
 * is what the aggregator validates against). The aggregator checks again; this saves the upload.
 */
export function decideStaleUpdate(update: UpdateRoundRules, newest: UpdateRoundRules | undefined, nowMs: number): StaleDecision {
  const current = newest && newest.roundId > update.roundId ? newest : undefined;
  const staleness = current ? current.roundId - update.roundId : 0;
  if (update.mode === 'sync') {
    if (current) return { send: false, reason: 'round-closed', detail: `round ${update.roundId} (sync) was superseded by round ${current.roundId}` };
    if (nowMs > update.deadlineMs) return { send: false, reason: 'deadline-passed', detail: `round ${update.roundId} (sync) closed at ${new Date(update.deadlineMs).toISOString()}` };
    return { send: true, staleness: 0 };
  }
  const maxStaleness = current ? (current.mode === 'buffered' ? current.maxStaleness : 0) : update.maxStaleness;
  if (staleness > maxStaleness) {
    return { send: false, reason: 'too-stale', detail: `round ${update.roundId} is ${staleness} rounds behind round ${newest?.roundId}, over maxStaleness ${maxStaleness}` };
  }
  return { send: true, staleness };
}

/** One ledger entry as published on privacy/<userId>/ledger: exactly its line in the ledger file. */
export function ledgerMessage(entry: LedgerEntry): Uint8Array {
  return new TextEncoder().encode(canonicalize(entry) + '\n');
}

export interface BudgetTerms {
  epsilonMax: number;
  delta: number;
  accountant: AccountantName;
}

/** The retained privacy/<userId>/budget summary after the given ledger entries. */
export function budgetSummary(userId: string, budget: BudgetTerms, entries: readonly LedgerEntry[], now: Date): BudgetSummary {
  const last = entries.at(-1);
  const spent = last?.epsilonAfter ?? 0;
  return BudgetSummarySchema.parse({
    v: 1,
    userId,
    epsilonSpent: spent,
    epsilonMax: budget.epsilonMax,
    delta: budget.delta,
    accountant: budget.accountant,
    remaining: Math.max(0, budget.epsilonMax - spent),
    entries: entries.length,
    lastEntryHash: last ? hashEntry(last) : GENESIS_HASH,
    updatedAt: now.toISOString(),
  });
}
