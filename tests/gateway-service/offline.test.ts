/**
 * Offline-first: the broker goes away while the gateway trains two rounds, the gateway process is
 * restarted with its outbox full, and the broker comes back (same port, same LevelDB store). What
 * the scripted aggregator receives is counted: every queued message arrives exactly once, in order,
 * and the stale update of a sync round whose deadline passed meanwhile is dropped, not sent.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics, type BrokerHandle } from '../../broker/index.ts';
import { SeenUpdates, parseBudgetSummary, validateUpdate } from '../../federation/index.ts';
import { Outbox, type GatewayService } from '../../gateway/index.ts';
import { parseLedgerText, rdpAccountant, readPublicKeyFile, verifyLedger, type LedgerEntry } from '../../privacy/index.ts';
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
  removeTempDirs,
  roundEvent,
  simulatedRecords,
  startGateway,
  startTestBroker,
  tempDir,
  writeGatewayKey,
} from './helpers.ts';

let dir: string;
let port: number;
let broker: BrokerHandle | null = null;
let agg: Aggregator | null = null;
let gw: GatewayService | null = null;
let publicKey: import('node:crypto').KeyObject;
/** The gateway's clock: moved forward by the test while the broker is away. */
let clock = Date.UTC(2026, 0, 6, 12);
const now = (): number => clock;

const persistence = (): { type: 'level'; path: string } => ({ type: 'level', path: path.join(dir, 'broker-db') });

async function brokerUp(): Promise<BrokerHandle> {
  broker = await startTestBroker(dir, { persistence: persistence(), tcp: { host: '127.0.0.1', port } });
  return broker;
}

async function brokerDown(): Promise<void> {
  await agg?.end();
  agg = null;
  await broker?.close();
  broker = null;
}

/** The aggregator keeps a persistent session, so what gateways send while it reconnects waits for it. */
function connectAggregator(): Promise<Aggregator> {
  return Aggregator.connect(`mqtt://127.0.0.1:${port}`, { clean: false });
}

function waitOutboxEmpty(g: GatewayService): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (g.outboxDepth !== 0) return;
      g.off('sent', check);
      g.off('dropped', check);
      resolve();
    };
    g.on('sent', check);
    g.on('dropped', check);
    check();
  });
}

beforeAll(async () => {
  dir = tempDir('offline');
  publicKey = await readPublicKeyFile((await writeGatewayKey(dir)).publicKeyPath);
  broker = await startTestBroker(dir, { persistence: persistence() });
  port = broker.tcpPort as number;
  agg = await connectAggregator();
});

afterAll(async () => {
  await gw?.stop();
  await agg?.end();
  await broker?.close();
  removeTempDirs();
});

describe('gateway service: offline-first outbox', () => {
  it('trains two buffered rounds with the broker away, survives a restart, and delivers everything exactly once', async () => {
    const base = await baseModel();
    const model = { modelVersion: base.manifest.modelVersion, modelSha256: base.manifest.onnx.sha256 };
    const config = gatewayConfig(dir, `mqtt://127.0.0.1:${port}`, { budget: { epsilonMax: 100, delta: 1e-5 } });
    gw = await startGateway(config, { now });
    const online = new Promise<void>((r) => gw?.once('online', () => r()));
    await online;

    // Two buffered rounds announced while the gateway has no labelled data yet: both wait.
    const waiting1 = roundEvent(gw, 1, 'waiting-data');
    await agg?.announce(announcement({ roundId: 1, mode: 'buffered', maxStaleness: 2, deadlineMs: clock + 3_600_000, ...model }));
    await waiting1;
    const received2 = roundEvent(gw, 2, 'received');
    await agg?.announce(announcement({ roundId: 2, mode: 'buffered', maxStaleness: 2, deadlineMs: clock + 3_600_000, ...model }));
    await received2;

    // The broker goes away; then the data arrives and both rounds train offline.
    const offline = new Promise<void>((r) => gw?.once('offline', () => r()));
    await brokerDown();
    await offline;
    const trained = Promise.all([roundEvent(gw, 1, 'trained'), roundEvent(gw, 2, 'trained')]);
    await feed(gw, simulatedRecords());
    await trained;
    expect(gw.online).toBe(false);
    expect(gw.outboxDepth).toBe(6); // (ledger entry, budget summary, update) × 2

    // The gateway restarts while still offline: the outbox is reopened from disk.
    await gw.stop();
    const reopened = Outbox.open(path.join(dir, 'data', 'outbox'));
    expect(reopened.pending().map((e) => `${e.kind}:${e.roundId ?? e.ledgerIndex ?? ''}`)).toEqual(['ledger:0', 'budget:', 'update:1', 'ledger:1', 'budget:', 'update:2']);
    reopened.close();
    gw = await startGateway(config, { now });
    expect(gw.outboxDepth).toBe(6);
    const sentOrder: string[] = [];
    gw.on('sent', (e) => sentOrder.push(`${e.kind}:${e.roundId ?? e.ledgerIndex ?? ''}`));

    // The broker comes back; the aggregator reconnects to its persistent session.
    await brokerUp();
    agg = await connectAggregator();
    await waitOutboxEmpty(gw);
    const a = agg;
    const updates = await a.waitFor(topics.updates(GATEWAY), 2);
    const ledger = await a.waitFor(topics.privacyLedger(USER), 2);
    await a.waitFor(topics.privacyBudget(USER), 2);

    // Sent in order (each after the previous PUBACK), received exactly once each.
    expect(sentOrder).toEqual(['ledger:0', 'budget:', 'update:1', 'ledger:1', 'budget:', 'update:2']);
    expect(updates).toHaveLength(2);
    expect(ledger).toHaveLength(2);
    expect(a.on_(topics.privacyBudget(USER))).toHaveLength(2);
    expect(a.received).toHaveLength(6);

    // Both updates are valid for the aggregator in buffered mode (round 1 one round stale), neither a duplicate.
    const seen = new SeenUpdates();
    const shapes = bodyShapes(base.params.model.arch);
    const verdicts = updates.map((u) => {
      const r = validateUpdate(new Uint8Array(u.payload), { modelVersion: model.modelVersion, shapes, openRound: 2, maxStaleness: 2, normBound: 10, maxBytes: 65536, publicKeyOf: () => publicKey, seen, senderClientId: GATEWAY });
      if (r.ok) seen.record(GATEWAY, r.update.roundId, r.update.digest);
      return r.ok ? `${r.update.roundId}:stale${r.update.staleness}` : r.reason;
    });
    expect(verdicts).toEqual(['1:stale1', '2:stale0']);

    const entries = parseLedgerText(Buffer.concat(ledger.map((l) => l.payload))).lines.map((l) => (l.check.ok ? l.check.entry : null)) as LedgerEntry[];
    expect(entries.map((e) => [e.index, e.round])).toEqual([[0, 1], [1, 2]]);
    const verdict = verifyLedger(entries, { publicKey, accountant: rdpAccountant, delta: 1e-5 });
    expect(verdict.ok).toBe(true);
    const lastBudget = parseBudgetSummary(a.on_(topics.privacyBudget(USER))[1].payload);
    expect(lastBudget.epsilonSpent).toBeCloseTo(verdict.epsilon, 12);
    expect(lastBudget.entries).toBe(2);
  });

  it('drops (does not send) the update of a sync round whose deadline passed while offline; its ledger entry and budget still go out', async () => {
    // A fresh gateway with no data yet, so the round waits until the broker is gone.
    await gw?.stop();
    const dir2 = tempDir('offline-sync');
    await writeGatewayKey(dir2);
    const g = await startGateway(gatewayConfig(dir2, `mqtt://127.0.0.1:${port}`, { budget: { epsilonMax: 100, delta: 1e-5 } }), { now });
    gw = g;
    await new Promise<void>((r) => g.once('online', () => r()));
    const base = await baseModel();
    const waiting = roundEvent(g, 3, 'waiting-data');
    await (agg as Aggregator).announce(announcement({ roundId: 3, mode: 'sync', deadlineMs: clock + 60_000, modelVersion: base.manifest.modelVersion, modelSha256: base.manifest.onnx.sha256 }));
    await waiting;
    const offline = new Promise<void>((r) => g.once('offline', () => r()));
    await brokerDown();
    await offline;
    const trained = roundEvent(g, 3, 'trained');
    await feed(g, simulatedRecords());
    await trained;
    expect(g.outboxDepth).toBe(3);

    // The round's deadline passes before the broker is back.
    clock += 120_000;
    const dropped = new Promise<string>((r) => g.once('dropped', (_e, reason) => r(reason)));
    await brokerUp();
    agg = await connectAggregator();
    expect(await dropped).toBe('deadline-passed');
    await waitOutboxEmpty(g);
    const a = agg;
    await a.waitFor(topics.privacyLedger(USER), 1);
    await a.waitFor(topics.privacyBudget(USER), 1);
    expect(a.on_(topics.updates(GATEWAY))).toHaveLength(0);
    expect(a.on_(topics.privacyLedger(USER))).toHaveLength(1);
    const budgets = a.on_(topics.privacyBudget(USER));
    expect(budgets).toHaveLength(1);
    expect(parseBudgetSummary(budgets[0].payload).entries).toBe(1);
    const dropMetric = (await g.metrics.outboxDropped.get()).values.find((v) => v.labels.reason === 'deadline-passed');
    expect(dropMetric?.value).toBe(1);
  });
});
