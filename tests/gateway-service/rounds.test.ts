/**
 * The gateway service against a real aedes broker and a scripted aggregator (a real mqtt.js client
 * with the aggregator role): it joins three rounds, publishes three valid signed compressed updates
 * and three ledger entries whose recomputed epsilon matches the retained budget summary, downloads
 * and verifies a new global model between rounds, and skips the round that would exceed its budget.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrokerHandle } from '../../broker/index.ts';
import { topics } from '../../broker/index.ts';
import { SeenUpdates, decodeEnvelope, parseBudgetSummary, validateUpdate, type BudgetSummary, type RoundAnnouncement, type ValidatedUpdate } from '../../federation/index.ts';
import type { GatewayService } from '../../gateway/index.ts';
import { createBudget, hashEntry, parseLedgerText, rdpAccountant, readPublicKeyFile, verifyLedger, type LedgerEntry } from '../../privacy/index.ts';
import {
  Aggregator,
  GATEWAY,
  USER,
  announcement,
  baseModel,
  bodyShapes,
  brokerUrl,
  feed,
  gatewayConfig,
  httpGet,
  modelMessage,
  promValue,
  removeTempDirs,
  roundEvent,
  simulatedRecords,
  startGateway,
  startTestBroker,
  tempDir,
  writeGatewayKey,
} from './helpers.ts';

const TRAINING = { sampleRate: 0.25, steps: 10, noiseMultiplier: 1.0 };

let broker: BrokerHandle;
let agg: Aggregator;
let gw: GatewayService;
let dir: string;
let publicKey: import('node:crypto').KeyObject;
let epsilonMax: number;
const accepted: ValidatedUpdate[] = [];
let model2Sha = '';
const skips: string[] = [];
/** Every topic the gateway's MQTT client published on, seen by the broker itself. */
const gatewayTopics = new Set<string>();

/** epsilon after k identical runs, as the gateway's budget computes it. */
function epsilonAfter(k: number): number {
  const b = createBudget({ epsilonMax: 1e9, delta: 1e-5, accountant: rdpAccountant });
  const step = { steps: TRAINING.steps, sampleRate: TRAINING.sampleRate, noiseMultiplier: TRAINING.noiseMultiplier };
  return b.canSpend(Array.from({ length: k - 1 }, () => step), step).epsilonAfter;
}

beforeAll(async () => {
  dir = tempDir('rounds');
  broker = await startTestBroker(dir);
  broker.aedes.on('publish', (packet, client) => {
    if (client?.id === GATEWAY) gatewayTopics.add(packet.topic);
  });
  const key = await writeGatewayKey(dir);
  publicKey = await readPublicKeyFile(key.publicKeyPath);
  // Room for three rounds and not four.
  epsilonMax = (epsilonAfter(3) + epsilonAfter(4)) / 2;
  gw = await startGateway(gatewayConfig(dir, brokerUrl(broker), { budget: { epsilonMax, delta: 1e-5, accountant: 'rdp' } }));
  gw.on('round', (e) => e.phase === 'skipped' && skips.push(`${e.roundId}:${e.reason}`));
  await feed(gw, simulatedRecords());
  agg = await Aggregator.connect(brokerUrl(broker));
});

afterAll(async () => {
  await gw?.stop();
  await agg?.end();
  await broker?.close();
  removeTempDirs();
});

describe('gateway service: rounds over MQTT', () => {
  const seen = new SeenUpdates();

  async function runRound(roundId: number, modelVersion: string, modelSha256: string): Promise<ValidatedUpdate> {
    const shapes = bodyShapes((await baseModel()).params.model.arch);
    const updates = agg.waitFor(topics.updates(GATEWAY), roundId);
    await agg.announce(withTraining(announcement({ roundId, modelVersion, modelSha256 })));
    const bytes = (await updates)[roundId - 1].payload;
    const r = validateUpdate(new Uint8Array(bytes), {
      modelVersion,
      shapes,
      openRound: roundId,
      normBound: 10,
      maxBytes: 65536,
      publicKeyOf: (id) => (id === GATEWAY ? publicKey : undefined),
      seen,
      senderClientId: GATEWAY,
      allowedEncodings: ['int8-dense', 'float32'],
    });
    if (!r.ok) throw new Error(`update rejected: ${r.reason}: ${r.detail}`);
    seen.record(GATEWAY, roundId, r.update.digest);
    accepted.push(r.update);
    return r.update;
  }

  it('joins three rounds: each update is signed, compressed, validated by federation; a new model is downloaded and verified', async () => {
    const base = await baseModel();
    const u1 = await runRound(1, base.manifest.modelVersion, base.manifest.onnx.sha256);
    expect(u1.encoding).toBe('int8-dense');
    expect(u1.norm).toBeGreaterThan(0);

    // The aggregator moves the body by the accepted update and publishes model agg-2.
    const params2 = base.params.model.params.slice() as Float32Array;
    u1.delta.forEach((d, i) => (params2[i] += d));
    const m2 = await modelMessage('agg-2', params2);
    model2Sha = m2.sha256;
    const gotModel = new Promise<string>((resolve) => gw.once('model', resolve));
    await agg.publishModel(m2.bytes);
    expect(await gotModel).toBe('agg-2');
    const u2 = await runRound(2, 'agg-2', m2.sha256);
    const u3 = await runRound(3, 'agg-2', m2.sha256);
    expect([u1, u2, u3].map((u) => u.roundId)).toEqual([1, 2, 3]);
    expect(new Set([u1.digest, u2.digest, u3.digest]).size).toBe(3);
    // The model it now serves is its personal model on agg-2.
    expect(gw.health().model.live).toBe('agg-2+personal-r3');
    const stored = fs.readFileSync(path.join(dir, 'data', 'model', 'global.fwmd'));
    expect(Buffer.compare(stored, Buffer.from(m2.bytes))).toBe(0);
  });

  it('publishes three ledger entries whose recomputed epsilon matches the retained budget summary', async () => {
    const lines = await agg.waitFor(topics.privacyLedger(USER), 3);
    const parsed = parseLedgerText(Buffer.concat(lines.map((l) => l.payload)));
    expect(parsed.tornTail).toBeNull();
    const entries = parsed.lines.map((l) => (l.check.ok ? l.check.entry : null)).filter((e): e is LedgerEntry => e !== null);
    expect(entries.map((e) => e.round)).toEqual([1, 2, 3]);
    const verdict = verifyLedger(entries, { publicKey, accountant: rdpAccountant, delta: 1e-5 });
    expect(verdict.faults).toEqual([]);
    expect(verdict.ok).toBe(true);

    // A fresh reader gets the retained summary.
    const reader = await Aggregator.connect(brokerUrl(broker), { clientId: 'aggregator:reader' });
    try {
      const retained = (await reader.waitFor(topics.privacyBudget(USER), 1))[0];
      expect(retained.retain).toBe(true);
      const summary: BudgetSummary = parseBudgetSummary(retained.payload);
      expect(summary.entries).toBe(3);
      expect(summary.epsilonSpent).toBeCloseTo(verdict.epsilon, 12);
      expect(summary.epsilonSpent).toBeLessThanOrEqual(epsilonMax);
      expect(summary.lastEntryHash).toBe(hashEntry(entries[2]));
      expect(summary.remaining).toBeCloseTo(epsilonMax - verdict.epsilon, 12);
    } finally {
      await reader.end();
    }
  });

  it('skips the round that would exceed the budget: nothing is published, and the skip is counted', async () => {
    const skipped = roundEvent(gw, 4, 'skipped');
    await agg.announce(withTraining(announcement({ roundId: 4, modelVersion: 'agg-2', modelSha256: model2Sha })));
    const e = await skipped;
    expect(e.reason).toBe('over-budget');
    expect(skips).toEqual(['4:over-budget']);
    expect(gw.outboxDepth).toBe(0);
    expect(gw.health().privacy.ledgerEntries).toBe(3);
    const metrics = await httpGet(gw.httpPort, '/metrics');
    expect(promValue(metrics.body, 'fedwear_gateway_rounds_skipped_total{reason="over-budget"}')).toBe(1);
    expect(promValue(metrics.body, 'fedwear_gateway_rounds_joined_total')).toBe(3);
    expect(promValue(metrics.body, 'fedwear_gateway_messages_sent_total{kind="update"}')).toBe(3);
    expect(promValue(metrics.body, 'fedwear_gateway_update_compression_ratio')).toBeGreaterThan(3);
    expect(agg.on_(topics.updates(GATEWAY))).toHaveLength(3);
    expect(agg.on_(topics.privacyLedger(USER))).toHaveLength(3);
  });

  it('publishes nothing but updates, ledger entries and budget summaries (estimates stay on the gateway)', async () => {
    expect((await httpGet(gw.httpPort, '/estimates')).json()).toMatchObject({ estimates: expect.arrayContaining([expect.objectContaining({ kcalPerMin: expect.any(Number) })]) });
    expect([...gatewayTopics].sort()).toEqual([topics.privacyBudget(USER), topics.privacyLedger(USER), topics.updates(GATEWAY)].sort());
  });

  it('refuses a model/current whose bytes do not match its manifest, and keeps serving the model it has', async () => {
    const good = await modelMessage('agg-3', (await baseModel()).params.model.params as Float32Array);
    const bad = Uint8Array.from(good.bytes);
    bad[bad.length - 5] ^= 0x40; // a parameter byte: no longer the manifest's paramsSha256
    const before = gw.health().model;
    await agg.publishModel(bad);
    // A good model published after it is taken, so the bad one was seen and refused first.
    const taken = new Promise<string>((resolve) => gw.once('model', resolve));
    await agg.publishModel(good.bytes);
    expect(await taken).toBe('agg-3');
    const metrics = await httpGet(gw.httpPort, '/metrics');
    expect(promValue(metrics.body, 'fedwear_gateway_models_rejected_total')).toBe(1);
    expect(before.global).toBe('agg-2');
    expect(gw.health().model.global).toBe('agg-3');
  });

  it('the published update is exactly an envelope: decoded fully, nothing trailing, no field beyond the format', () => {
    const bytes = new Uint8Array(agg.on_(topics.updates(GATEWAY))[0].payload);
    const d = decodeEnvelope(bytes);
    expect(d.byteLength).toBe(bytes.length);
    expect(Object.keys(d).sort()).toEqual(['byteLength', 'clientId', 'envelopeVersion', 'modelVersion', 'roundId', 'signature', 'signedBytes', 'timestampMs', 'update']);
    expect(d.update.encoding).toBe('int8-dense');
    expect(Object.keys(d.update).sort()).toEqual(['encoding', 'q', 'scales', 'shapes']);
    // Header (20) + strings + tensor table + payload length + payload + signature = every byte.
    const strings = 2 + d.modelVersion.length + d.clientId.length;
    const table = 2 + d.update.shapes.reduce((a, s) => a + 1 + 4 * s.length, 0);
    const payload = d.update.encoding === 'int8-dense' ? 4 * d.update.scales.length + d.update.q.length : 0;
    expect(20 + strings + table + 4 + payload + 64).toBe(bytes.length);
    expect(d.clientId).toBe(GATEWAY);
  });
});

function withTraining(a: RoundAnnouncement): RoundAnnouncement {
  return { ...a, training: { ...a.training, ...TRAINING } };
}
