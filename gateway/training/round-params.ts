/**
 * What a federated round requires of one local fine-tuning run (rounds/current, design.md
 * "Privacy semantics"), and its validation. Every error names the field, so a bad round is refused
 * before anything touches the user's data or ledger.
 */
import type { AccountantName } from '../../privacy/index.ts';

export type OptimizerName = 'sgd' | 'adam';

export interface RoundTrainingParameters {
  /** Federated round id; recorded in the ledger entry. */
  round: number;
  /**
   * sigma, as the round requires it. Exactly one of noiseMultiplier and epsilonPerRound.
   */
  noiseMultiplier?: number;
  /**
   * How much this round may raise the user's cumulative epsilon (at the budget's delta, with the
   * budget's accountant). sigma is calibrated so that history + this run lands at
   * min(epsilonBefore + epsilonPerRound, epsilonMax). Because it is a difference of ledger
   * epsilons, an auditor can check it from two consecutive entries.
   */
  epsilonPerRound?: number;
  /** C: flat clipping over the whole gradient (body and head together). */
  maxGradNorm: number;
  /** Poisson rate q. Exactly one of sampleRate and batchSize. */
  sampleRate?: number;
  /** A DataLoader batch size, turned into q as Opacus's make_private does (opacusSampleRate). */
  batchSize?: number;
  /** Exactly one of steps and epochs; an epoch is int(1/q) Poisson batches, as Opacus's DPDataLoader. */
  steps?: number;
  epochs?: number;
  /** The delta the round's epsilon refers to; the user's budget delta must be at most this. */
  delta: number;
  /** Must be the accountant of the user's budget (the ledger is computed with one accountant). */
  accountant: AccountantName;
  /** FedProx mu: mu/2 ||w_body - w_body_global||^2, data-independent, added after the noise. */
  mu: number;
  lr: number;
  optimizer?: OptimizerName;
  /** SGD momentum (torch semantics); sgd only. */
  momentum?: number;
}

/** Throws a RangeError naming the first bad field. Pure: knows nothing of the data. */
export function checkRoundParameters(p: RoundTrainingParameters): void {
  const bad = (field: string, want: string, got: unknown): never => {
    throw new RangeError(`round.${field} must be ${want} (got ${String(got)})`);
  };
  if (!Number.isSafeInteger(p.round) || p.round < 0) bad('round', 'a non-negative integer', p.round);
  const hasSigma = p.noiseMultiplier !== undefined;
  const hasTarget = p.epsilonPerRound !== undefined;
  if (hasSigma === hasTarget) throw new RangeError('round: give exactly one of noiseMultiplier and epsilonPerRound');
  if (hasSigma && !(Number.isFinite(p.noiseMultiplier) && (p.noiseMultiplier as number) >= 0)) bad('noiseMultiplier', 'a finite number >= 0', p.noiseMultiplier);
  if (hasTarget && !(Number.isFinite(p.epsilonPerRound) && (p.epsilonPerRound as number) > 0)) bad('epsilonPerRound', 'a finite number > 0', p.epsilonPerRound);
  if (!(Number.isFinite(p.maxGradNorm) && p.maxGradNorm > 0)) bad('maxGradNorm', 'a finite number > 0', p.maxGradNorm);
  if ((p.sampleRate === undefined) === (p.batchSize === undefined)) throw new RangeError('round: give exactly one of sampleRate and batchSize');
  if (p.sampleRate !== undefined && !(p.sampleRate > 0 && p.sampleRate <= 1)) bad('sampleRate', 'in (0, 1]', p.sampleRate);
  if (p.batchSize !== undefined && !(Number.isSafeInteger(p.batchSize) && p.batchSize > 0)) bad('batchSize', 'a positive integer', p.batchSize);
  if ((p.steps === undefined) === (p.epochs === undefined)) throw new RangeError('round: give exactly one of steps and epochs');
  if (p.steps !== undefined && !(Number.isSafeInteger(p.steps) && p.steps > 0)) bad('steps', 'a positive integer', p.steps);
  if (p.epochs !== undefined && !(Number.isFinite(p.epochs) && p.epochs > 0)) bad('epochs', 'a finite number > 0', p.epochs);
  if (!(p.delta > 0 && p.delta < 1)) bad('delta', 'in (0, 1)', p.delta);
  if (p.accountant !== 'rdp' && p.accountant !== 'prv') bad('accountant', "'rdp' or 'prv'", p.accountant);
  if (!(Number.isFinite(p.mu) && p.mu >= 0)) bad('mu', 'a finite number >= 0', p.mu);
  if (!(Number.isFinite(p.lr) && p.lr > 0)) bad('lr', 'a finite number > 0', p.lr);
  const optimizer = p.optimizer ?? 'sgd';
  if (optimizer !== 'sgd' && optimizer !== 'adam') bad('optimizer', "'sgd' or 'adam'", p.optimizer);
  if (p.momentum !== undefined) {
    if (optimizer !== 'sgd') throw new RangeError('round.momentum applies to sgd only');
    if (!(p.momentum >= 0 && p.momentum < 1)) bad('momentum', 'in [0, 1)', p.momentum);
  }
  // Plain SGD on the proximal term alone maps d = w - w0 to (1 - lr mu) d: with lr mu >= 2 that
  // oscillates with growing amplitude, so the body would diverge from the global model instead of
  // being held near it.
  if (optimizer === 'sgd' && p.lr * p.mu >= 2) bad('mu', `below 2/lr = ${2 / p.lr} with sgd (lr * mu >= 2 makes the proximal step diverge)`, p.mu);
}
