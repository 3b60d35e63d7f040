/**
 * Federated rounds on the gateway: announcements from rounds/current and models from model/current
 * come in; local DP fine-tuning runs; the ledger entry, budget summary and sealed update go into the
 * outbox; the live model becomes the new personal model.
 *
 * One round trains at a time. Which announced rounds are worth training:
 * - sync: only the newest; an older pending round is closed (its update would be dropped anyway).
 * - buffered: each announced round once, in order, while it is within maxStaleness of the newest
 *   (FedBuff-style: a stale update still counts, staleness-weighted).
 * A round waits (it is not skipped) while the model it names has not arrived, or while there are
 * fewer labelled examples than training.minExamples; it is re-tried when either arrives. A round is
 * trained at most once: the ledger records every round it charged, and that survives restarts.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { topics } from '../../broker/index.ts';
import { parseRoundAnnouncement, type RoundAnnouncement, type UniformSource } from '../../federation/index.ts';
import type { LedgerEntry, LedgerWriter, PrivacyBudget } from '../../privacy/index.ts';
import { mlpLayout } from '../../models/index.ts';
import { faultPoint } from './fault-point.ts';
import { bodyTensors, fineTuneRound, type FineTuneOptions, type TrainedRound } from '../training/index.ts';
import type { GatewayConfig } from './config.ts';
import type { LiveModel } from './live-model.ts';
import type { LocalData } from './local-data.ts';
import type { GatewayMetrics } from './metrics.ts';
import { ModelRejectedError, globalModelOf, personalOnnx, verifyModelMessage, type GlobalModelState, type ModelFiles, type PersonalState } from './model-state.ts';
import type { Outbox, OutboxItem } from './outbox.ts';
import type { OutboxSender } from './outbox-sender.ts';
import { budgetSummary, ledgerMessage, roundTrainingParameters, type UpdateRoundRules } from './round-rules.ts';
import { sealUpdate } from './seal-update.ts';

export type RoundPhase = 'received' | 'waiting-model' | 'waiting-data' | 'training' | 'trained' | 'skipped';

export interface RoundEvent {
  roundId: number;
  phase: RoundPhase;
  /** skipped: why (a fineTuneRound skip code, round-closed, deadline-passed, too-stale, error, ...). */
  reason?: string;
  detail?: string;
  epsilonAfter?: number;
  encoding?: string;
  updateBytes?: number;
  compressionRatio?: number;
}

export interface RoundRunnerDeps {
  config: GatewayConfig;
  ledger: LedgerWriter;
  budget: PrivacyBudget;
  data: LocalData;
  models: ModelFiles;
  live: LiveModel;
  outbox: Outbox;
  sender: OutboxSender;
  key: KeyObject;
  /** Rounding randomness of the update compression (post-processing; need not be secure). */
  random: UniformSource;
  /** Tests only: seeded DP randomness (fineTuneRound refuses it unless allowInsecureRandomness). */
  fineTune?: Pick<FineTuneOptions, 'random' | 'noise' | 'allowInsecureRandomness'>;
  now: () => number;
  metrics: GatewayMetrics;
  log: Logger;
  emit: (e: RoundEvent) => void;
}

function rulesOf(a: RoundAnnouncement): UpdateRoundRules {
  return { roundId: a.roundId, mode: a.mode, maxStaleness: a.maxStaleness, deadlineMs: a.deadlineMs };
}

export class RoundRunner {
  private global: GlobalModelState;
  private personal: PersonalState | null;
  private residual: Float32Array | null = null;
  private readonly pending = new Map<number, RoundAnnouncement>();
  /** Rounds decided in this process (trained, skipped for good): a redelivered announcement is ignored. */
  private readonly decided = new Set<number>();
  /** The newest announcement seen: what the outbox's stale check compares against. */
  newest: UpdateRoundRules | undefined;
  private busy: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private waitingFor: 'model' | 'data' | null = null;
  private lastWaitEvent = '';

  constructor(
    private readonly d: RoundRunnerDeps,
    global: GlobalModelState,
    personal: PersonalState | null,
  ) {
    this.global = global;
    this.personal = personal;
  }

  get globalModel(): GlobalModelState {
    return this.global;
  }

  get pendingRounds(): number[] {
    return [...this.pending.keys()];
  }

  get training(): boolean {
    return this.busy !== null;
  }

  /** Ledger entries written but never enqueued (a crash between the fsync and the outbox): enqueue them now. */
  reconcileLedger(): number {
    const { ledger, outbox } = this.d;
    const missing = ledger.entries.filter((e) => e.index > outbox.ledgerWatermark);
    if (missing.length === 0) return 0;
    const items: OutboxItem[] = missing.map((e) => this.ledgerItem(e));
    items.push(this.budgetItem(ledger.entries));
    outbox.enqueue(items);
    this.d.metrics.outboxDepth.set(outbox.depth);
    this.d.log.warn({ entries: missing.map((e) => e.index) }, 'ledger entries found that were never queued for publication (crash after the spend): queued now');
    return missing.length;
  }

  private ledgerItem(e: LedgerEntry): OutboxItem {
    return { kind: 'ledger', topic: topics.privacyLedger(this.d.config.userId), retain: false, ledgerIndex: e.index, createdAt: this.d.now(), payload: ledgerMessage(e) };
  }

  private budgetItem(entries: readonly LedgerEntry[]): OutboxItem {
    const c = this.d.config;
    const summary = budgetSummary(c.userId, c.budget, entries, new Date(this.d.now()));
    return { kind: 'budget', topic: topics.privacyBudget(c.userId), retain: true, createdAt: this.d.now(), payload: new TextEncoder().encode(JSON.stringify(summary)) };
  }

  onAnnouncement(payload: Uint8Array): void {
    let a: RoundAnnouncement;
    try {
      a = parseRoundAnnouncement(payload);
    } catch (err) {
      this.d.metrics.roundsSkipped.inc({ reason: 'invalid-announcement' });
      this.d.log.warn({ err: (err as Error).message }, 'ignored an invalid round announcement');
      return;
    }
    if (!this.newest || a.roundId > this.newest.roundId) this.newest = rulesOf(a);
    if (this.decided.has(a.roundId) || this.pending.has(a.roundId)) return;
    if (this.d.ledger.entries.some((e) => e.round === a.roundId && e.modelVersion === a.modelVersion)) {
      this.decided.add(a.roundId);
      this.d.log.debug({ round: a.roundId }, 'round already trained (in the ledger): not training it again');
      return;
    }
    this.d.log.info({ round: a.roundId, mode: a.mode, model: a.modelVersion }, 'round announced');
    this.d.emit({ roundId: a.roundId, phase: 'received' });
    this.pending.set(a.roundId, a);
    this.prune();
    this.kick();
  }

  /** Drops pending rounds a newer announcement closed (sync) or made too stale (buffered). */
  private prune(): void {
    const newest = this.newest;
    if (!newest) return;
    for (const [r, a] of this.pending) {
      if (r >= newest.roundId) continue;
      if (a.mode === 'sync' || newest.mode === 'sync') this.skip(a, 'round-closed', `superseded by round ${newest.roundId}`);
      else if (newest.roundId - r > newest.maxStaleness) this.skip(a, 'too-stale', `${newest.roundId - r} rounds behind, over maxStaleness ${newest.maxStaleness}`);
    }
  }

  private skip(a: RoundAnnouncement, reason: string, detail: string): void {
    this.pending.delete(a.roundId);
    this.decided.add(a.roundId);
    this.d.metrics.roundsSkipped.inc({ reason });
    this.d.log.info({ round: a.roundId, reason }, `round not trained: ${detail}`);
    this.d.emit({ roundId: a.roundId, phase: 'skipped', reason, detail });
  }

  /** model/current: verified, kept on disk, and (if it is a new version) made the live model's body. True if taken. */
  async onModel(payload: Uint8Array): Promise<boolean> {
    let g: GlobalModelState;
    try {
      g = verifyModelMessage(payload);
    } catch (err) {
      this.d.metrics.modelsRejected.inc();
      this.d.log.error({ err: (err as Error).message }, 'model/current rejected');
      return false;
    }
    if (g.version === this.global.version && g.onnxSha256 === this.global.onnxSha256) return false;
    this.d.models.writeGlobal(g);
    this.global = g;
    this.d.log.info({ model: g.version, sha256: g.onnxSha256 }, 'new global model');
    await this.refreshLiveModel();
    this.kick();
    return true;
  }

  /** The live model for the current global: its body with our head if we have one, else the global as is. */
  async refreshLiveModel(): Promise<void> {
    const g = this.global;
    const p = this.personal;
    if (p && JSON.stringify(p.layerSizes) === JSON.stringify(g.arch.layerSizes)) {
      await this.d.live.swap(personalOnnx(g, p.head), `${g.version}+personal-r${p.round}`, true);
    } else {
      await this.d.live.swap(g.onnx, g.version, false);
    }
  }

  /** A new labelled example may unblock a round waiting for data. */
  onLabelledWindow(): void {
    if (this.waitingFor === 'data' && this.d.data.labelledCount >= this.d.config.training.minExamples) this.kick();
  }

  kick(): void {
    if (this.stopped) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = this.process()
      .catch((err: Error) => this.d.log.error({ err }, 'round processing failed'))
      .finally(() => {
        this.busy = null;
        if (this.again && !this.stopped) {
          this.again = false;
          this.kick();
        }
      });
  }

  private wait(a: RoundAnnouncement, what: 'model' | 'data', detail: string): void {
    this.waitingFor = what;
    const key = `${a.roundId}:${what}`;
    if (key === this.lastWaitEvent) return;
    this.lastWaitEvent = key;
    this.d.log.info({ round: a.roundId }, `round waiting: ${detail}`);
    this.d.emit({ roundId: a.roundId, phase: what === 'model' ? 'waiting-model' : 'waiting-data', detail });
  }

  private async process(): Promise<void> {
    const { config, now } = this.d;
    while (!this.stopped) {
      this.again = false;
      this.waitingFor = null;
      const ids = [...this.pending.keys()].sort((x, y) => x - y);
      if (ids.length === 0) return;
      const a = this.pending.get(ids[0]) as RoundAnnouncement;
      if (a.mode === 'sync' && now() > a.deadlineMs) {
        this.skip(a, 'deadline-passed', `its deadline ${new Date(a.deadlineMs).toISOString()} passed`);
        continue;
      }
      if (a.modelVersion !== this.global.version || a.modelSha256 !== this.global.onnxSha256) {
        // model/current keeps only the newest model: once a newer round is pending, this one's will not come.
        if (ids.length > 1) {
          this.skip(a, 'model-unavailable', `its model ${a.modelVersion} was superseded before it arrived`);
          continue;
        }
        this.wait(a, 'model', `needs model ${a.modelVersion} (${a.modelSha256.slice(0, 12)}…), this gateway has ${this.global.version}`);
        return;
      }
      if (this.d.data.labelledCount < config.training.minExamples) {
        this.wait(a, 'data', `fewer than ${config.training.minExamples} labelled examples`);
        return;
      }
      if ((await this.train(a)) === 'wait') return;
    }
  }

  /** 'wait': fineTuneRound found too few examples for the round's sample rate; re-tried on new data. */
  private async train(a: RoundAnnouncement): Promise<'next' | 'wait'> {
    const { config, ledger, budget, data, log } = this.d;
    const g = this.global;
    const personalHead = this.personal && JSON.stringify(this.personal.layerSizes) === JSON.stringify(g.arch.layerSizes) ? this.personal.head : undefined;
    this.d.emit({ roundId: a.roundId, phase: 'training' });
    const set = data.trainingSet();
    let result;
    try {
      result = await fineTuneRound(
        { features: set.features, labels: set.labels, normalization: g.normalization, globalModel: globalModelOf(g), personalHead, round: roundTrainingParameters(a), budget, ledger },
        {
          minExamples: config.training.minExamples,
          exportOnnx: true,
          diagnostics: config.training.diagnostics,
          emaDecay: config.training.emaDecay,
          ...this.d.fineTune,
          onProgress: (done) => faultPoint(`train-step:${done}`, { round: a.roundId }),
        },
      );
    } catch (err) {
      // The ledger may hold a spend for this round already (then it is over-counted, never under).
      this.skip(a, 'error', (err as Error).message);
      log.error({ err, round: a.roundId }, 'round failed');
      this.syncEpsilon();
      return 'next';
    }
    if (result.status === 'skipped') {
      if (result.code === 'too-few-examples') {
        this.wait(a, 'data', result.reason);
        return 'wait';
      }
      this.skip(a, result.code, result.reason);
      return 'next';
    }
    this.pending.delete(a.roundId);
    this.decided.add(a.roundId);
    await this.publish(a, result);
    return 'next';
  }

  private async publish(a: RoundAnnouncement, r: TrainedRound): Promise<void> {
    const { config, models, outbox, metrics, log, live } = this.d;
    const g = this.global;
    const n = r.update.length;
    if (!this.residual || this.residual.length !== n) this.residual = models.readResidual(n);
    const sealed = sealUpdate({
      delta: r.update,
      shapes: r.bodyShapes,
      residual: this.residual,
      preferences: { encodings: config.updates.encodings, topK: config.updates.topK },
      rules: a.update,
      modelVersion: a.modelVersion,
      roundId: a.roundId,
      clientId: config.username,
      timestampMs: this.d.now(),
      key: this.d.key,
      random: this.d.random,
    });
    const items: OutboxItem[] = [this.ledgerItem(r.ledgerEntry), this.budgetItem(this.d.ledger.entries)];
    if (sealed.ok) {
      // Residual before the enqueue: a crash in between loses this round's update once, rather
      // than sending the same mass twice.
      const changed = sealed.update.residual.some((x, i) => x !== this.residual?.[i]);
      if (changed) models.writeResidual(sealed.update.residual);
      this.residual = sealed.update.residual;
      items.push({ kind: 'update', topic: topics.updates(config.username), retain: false, ...rulesOf(a), createdAt: this.d.now(), payload: sealed.update.envelope });
    } else {
      metrics.roundsSkipped.inc({ reason: `update-${sealed.reason}` });
      log.error({ round: a.roundId, reason: sealed.reason }, `trained, but no update can be sent: ${sealed.detail}`);
    }
    const personal: PersonalState = { layerSizes: [...g.arch.layerSizes], head: r.personalHead, trainedOn: a.modelVersion, round: a.roundId };
    const onnx = r.onnxBytes as Uint8Array;
    models.writePersonal(personal, onnx);
    this.personal = personal;
    faultPoint('before-enqueue', { round: a.roundId });
    outbox.enqueue(items);
    faultPoint('after-enqueue', { round: a.roundId });
    metrics.outboxDepth.set(outbox.depth);
    metrics.roundsJoined.inc();
    this.syncEpsilon();
    if (sealed.ok) {
      metrics.updateBytes.observe(sealed.update.envelope.length);
      metrics.compressionRatio.set(sealed.update.compressionRatio);
    }
    log.info(
      {
        round: a.roundId,
        epsilonAfter: r.epsilonAfter,
        steps: r.stats.steps,
        sigma: r.stats.sigma,
        encoding: sealed.ok ? sealed.update.encoding : undefined,
        updateBytes: sealed.ok ? sealed.update.envelope.length : undefined,
        compressionRatio: sealed.ok ? Number(sealed.update.compressionRatio.toFixed(3)) : undefined,
        clipped: sealed.ok ? sealed.update.clipped : undefined,
        localOnly: r.localOnly,
      },
      'round trained; update queued',
    );
    this.d.sender.kick();
    await live.swap(onnx, `${a.modelVersion}+personal-r${a.roundId}`, true);
    this.d.emit({
      roundId: a.roundId,
      phase: 'trained',
      epsilonAfter: r.epsilonAfter,
      ...(sealed.ok ? { encoding: sealed.update.encoding, updateBytes: sealed.update.envelope.length, compressionRatio: sealed.update.compressionRatio } : {}),
    });
  }

  syncEpsilon(): void {
    this.d.metrics.epsilonSpent.set(this.d.ledger.epsilon);
  }

  /** Lets a round in training finish (its spend is recorded already) and stops taking new ones. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.busy;
  }

  /** Body shapes of the current global model (what the aggregator validates updates against). */
  bodyShapes(): number[][] {
    return bodyTensors(mlpLayout(this.global.arch)).shapes;
  }
}
