/** The round engine alone (pure core): judging, counting, closing, aggregating, buffered staleness. */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildStrategy, loadBaseModel, parseAggregatorConfig, publishModel, RoundEngine, type AggregatorConfigInput, type BaseModel, type EngineOptions } from '../../broker/index.ts';
import { fedAvg, inverseSqrtStaleness, type RoundMetrics } from '../../federation/index.ts';
import { aggregatorConfig, BODY_SIZE, deltaFor, expectedFedAvg, makeGateways, seal } from './helpers.ts';

const gws = makeGateways(5);
const keyOf = new Map(gws.map((g) => [g.username, g.publicKey]));
let base: BaseModel;
beforeAll(async () => {
  base = await loadBaseModel(aggregatorConfig('/tmp').modelDir as string);
});

function engineFor(over: Partial<AggregatorConfigInput> = {}, extra: Partial<EngineOptions> = {}, nowMs = 1_000): RoundEngine {
  const config = parseAggregatorConfig(aggregatorConfig('/tmp/unused', over));
  const opts: EngineOptions = {
    config,
    spec: base.spec,
    strategy: buildStrategy(config),
    publicKeyOf: (id) => keyOf.get(id),
    modelSha256Of: (m) => publishModel(base.spec, m).manifest.onnx.sha256,
    ...extra,
  };
  return new RoundEngine(opts, RoundEngine.initialState(opts, base.model, nowMs));
}

function accept(engine: RoundEngine, bytes: Uint8Array, sender: string): void {
  const j = engine.judge(bytes, sender);
  if (!j.ok) throw new Error(`expected acceptance, got ${j.reason}: ${j.detail}`);
  engine.accept(j.update);
}

describe('round engine, sync mode', () => {
  it('announces round 1 on the base model with the configured training parameters', () => {
    const e = engineFor();
    const a = e.announcement();
    expect(a).toMatchObject({ v: 1, roundId: 1, modelVersion: 'base-1', modelSha256: base.published.manifest.onnx.sha256, quorum: 3, mode: 'sync', maxStaleness: 0, deadlineMs: 61_000 });
    expect(a.training).toEqual({ sampleRate: 0.05, steps: 20, noiseMultiplier: 1.1, maxGradNorm: 1, delta: 1e-5, accountant: 'rdp', mu: 0, lr: 0.05, optimizer: 'sgd' });
  });

  it('closes on quorum with the exact FedAvg of the body and the head unchanged', () => {
    const e = engineFor();
    const deltas = [0, 1, 2].map((i) => deltaFor(i + 1));
    deltas.forEach((d, i) => accept(e, seal(gws[i], d, { round: 1, modelVersion: 'base-1' }), gws[i].username));
    expect(e.closeDecision(2_000)).toBe('quorum');
    const out = e.aggregate(2_000, 'quorum');
    const expected = expectedFedAvg(base.model.params, deltas);
    expect(Buffer.from(out.next.model.params.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    expect(Array.from(out.next.model.params.subarray(BODY_SIZE))).toEqual(Array.from(base.model.params.subarray(BODY_SIZE)));
    expect(out.next.model.params.subarray(0, BODY_SIZE)).not.toEqual(base.model.params.subarray(0, BODY_SIZE));
    expect(out.metrics).toMatchObject<Partial<RoundMetrics>>({ roundId: 1, modelVersion: 'base-1', newModelVersion: 'global-1', closedBy: 'quorum', accepted: 3, strategy: 'fedavg' });
    e.adopt(out.next);
    expect(e.announcement()).toMatchObject({ roundId: 2, modelVersion: 'global-1', modelSha256: publishModel(base.spec, out.next.model).manifest.onnx.sha256 });
    expect(e.acceptedCount).toBe(0);
  });

  it('rejects with a reason, counts per reason, and nothing rejected reaches the strategy', () => {
    const e = engineFor({ update: { normBound: 0.5, encodings: ['float32', 'int8-dense'] } });
    const good = deltaFor(7);
    const goodBytes = seal(gws[0], good, { round: 1, modelVersion: 'base-1' });
    accept(e, goodBytes, gws[0].username);
    const cases: Array<[Uint8Array, string, string]> = [
      [goodBytes, gws[0].username, 'duplicate'],
      [seal(gws[0], deltaFor(8), { round: 1, modelVersion: 'base-1' }), gws[0].username, 'replay'],
      [seal(gws[1], deltaFor(9), { round: 1, modelVersion: 'global-7' }), gws[1].username, 'model-version'],
      [seal(gws[1], deltaFor(9), { round: 2, modelVersion: 'base-1' }), gws[1].username, 'future-round'],
      [seal(gws[1], deltaFor(9), { round: 1, modelVersion: 'base-1' }), gws[2].username, 'client-mismatch'],
      [seal(gws[1], deltaFor(9, 1), { round: 1, modelVersion: 'base-1' }), gws[1].username, 'norm-exceeded'],
      [seal(gws[1], deltaFor(9), { round: 1, modelVersion: 'base-1', encoding: 'int8-topk' }), gws[1].username, 'encoding-not-allowed'],
      [seal({ ...gws[1], privateKey: gws[2].privateKey }, deltaFor(9), { round: 1, modelVersion: 'base-1' }), gws[1].username, 'bad-signature'],
      [seal({ ...gws[1], username: 'gw-stranger' }, deltaFor(9), { round: 1, modelVersion: 'base-1' }), 'gw-stranger', 'unknown-client'],
      [new Uint8Array([1, 2, 3]), gws[1].username, 'malformed'],
    ];
    for (const [bytes, sender, reason] of cases) {
      const j = e.judge(bytes, sender);
      expect(j.ok ? 'accepted' : j.reason, reason).toBe(reason);
      if (!j.ok) {
        expect(j.detail.length).toBeGreaterThan(10);
        e.reject(j.reason);
      }
    }
    expect(e.rejectedCounts).toEqual(Object.fromEntries(cases.map(([, , r]) => [r, 1])));
    const out = e.aggregate(5_000, 'deadline');
    expect(out.metrics.accepted).toBe(1);
    expect(out.metrics.rejected.duplicate).toBe(1);
    expect(Buffer.from(out.next.model.params.buffer).equals(Buffer.from(expectedFedAvg(base.model.params, [good]).buffer))).toBe(true);
  });

  it('at the deadline closes with enough updates, and otherwise moves the deadline', () => {
    const e = engineFor({ round: { durationMs: 1_000, quorum: 3, minUpdates: 2 } }, {}, 0);
    expect(e.closeDecision(999)).toBeNull();
    expect(e.closeDecision(1_000)).toBe('extend');
    e.extend(1_000);
    expect(e.round.deadlineMs).toBe(2_000);
    accept(e, seal(gws[0], deltaFor(1), { round: 1, modelVersion: 'base-1' }), gws[0].username);
    accept(e, seal(gws[1], deltaFor(2), { round: 1, modelVersion: 'base-1' }), gws[1].username);
    expect(e.closeDecision(1_500)).toBeNull();
    expect(e.closeDecision(2_000)).toBe('deadline');
  });

  it('refuses a user the privacy audit flags, after authenticating the update', () => {
    const e = engineFor({}, { auditRefusal: (id) => (id === gws[1].username ? 'ledger of user-1: bad-signature' : undefined) });
    expect(e.judge(seal(gws[1], deltaFor(1), { round: 1, modelVersion: 'base-1' }), gws[1].username)).toMatchObject({ ok: false, reason: 'privacy-audit', detail: /bad-signature/ });
    // A forgery in the flagged gateway's name is still a bad signature, not an audit refusal.
    expect(e.judge(seal({ ...gws[1], privateKey: gws[0].privateKey }, deltaFor(1), { round: 1, modelVersion: 'base-1' }), gws[1].username)).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(e.judge(seal(gws[0], deltaFor(1), { round: 1, modelVersion: 'base-1' }), gws[0].username).ok).toBe(true);
  });
});

describe('round engine, buffered mode (FedBuff)', () => {
  it('aggregates every K updates, accepts stale ones trained on their round\'s model, discounted by 1/sqrt(1+staleness)', () => {
    const e = engineFor({ mode: 'buffered', buffered: { bufferSize: 2, maxStaleness: 1 } });
    expect(e.announcement()).toMatchObject({ mode: 'buffered', quorum: 2, maxStaleness: 1 });
    const d = [1, 2, 3, 4].map((s) => deltaFor(s));
    accept(e, seal(gws[0], d[0], { round: 1, modelVersion: 'base-1' }), gws[0].username);
    accept(e, seal(gws[1], d[1], { round: 1, modelVersion: 'base-1' }), gws[1].username);
    expect(e.closeDecision(2_000)).toBe('buffer');
    const first = e.aggregate(2_000, 'buffer');
    e.adopt(first.next);
    expect(e.round).toMatchObject({ id: 2, modelVersion: 'global-1' });

    // gw-2 trained on base-1 during round 1: one round stale now.
    const stale = e.judge(seal(gws[2], d[2], { round: 1, modelVersion: 'base-1' }), gws[2].username);
    expect(stale.ok && stale.update.staleness).toBe(1);
    if (stale.ok) e.accept(stale.update);
    // Naming the current model for an old round is a mistake, not staleness.
    expect(e.judge(seal(gws[3], d[3], { round: 1, modelVersion: 'global-1' }), gws[3].username)).toMatchObject({ ok: false, reason: 'model-version' });
    accept(e, seal(gws[3], d[3], { round: 2, modelVersion: 'global-1' }), gws[3].username);
    // gw-0 already has an update for round 1 (in the previous buffer): the seen set kept it.
    expect(e.judge(seal(gws[0], d[0], { round: 1, modelVersion: 'base-1' }), gws[0].username)).toMatchObject({ ok: false, reason: 'duplicate' });

    const second = e.aggregate(3_000, 'buffer');
    const fb = fedAvg({ round: { durationMs: 1, quorum: 1, dp: { minNoiseMultiplier: 1, maxGradNorm: 1, delta: 1e-5 } }, staleness: {} });
    const want = fb.aggregate(first.next.model.params.slice(0, BODY_SIZE), [
      { delta: d[2], weight: 1, clientId: 'a', staleness: 1 },
      { delta: d[3], weight: 1, clientId: 'b', staleness: 0 },
    ], {});
    expect(Array.from(second.next.model.params.subarray(0, BODY_SIZE))).toEqual(Array.from(want.params));
    // The discount is FedBuff's: the stale delta counts 1/sqrt(2).
    const i = 5;
    const manual = first.next.model.params[i] + (inverseSqrtStaleness(1) * d[2][i] + d[3][i]) / 2;
    expect(second.next.model.params[i]).toBeCloseTo(manual, 6);
    e.adopt(second.next);
    // Two rounds behind is outside the window.
    expect(e.judge(seal(gws[4], d[0], { round: 1, modelVersion: 'base-1' }), gws[4].username)).toMatchObject({ ok: false, reason: 'model-version' });
    expect(e.judge(seal(gws[4], d[0], { round: 1, modelVersion: 'global-2' }), gws[4].username)).toMatchObject({ ok: false, reason: 'stale-round' });
  });
});
