/**
 * "Refused" versus "the broker went away": aedes answers a publish it refuses by dropping the
 * connection, and mqtt.js would re-send that packet after every reconnect. The gateway must set a
 * refused message aside and never send it again, but must re-send a message whose connection died
 * because the broker itself went down.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { metricTotal, topics, type BrokerHandle } from '../../broker/index.ts';
import { Outbox, requeueRefused, type GatewayService } from '../../gateway/index.ts';
import {
  Aggregator,
  GATEWAY,
  USER,
  announcement,
  baseModel,
  feed,
  gatewayConfig,
  httpGet,
  promValue,
  removeTempDirs,
  roundEvent,
  simulatedRecords,
  startGateway,
  startTestBroker,
  tempDir,
  writeCredentials,
  writeGatewayKey,
} from './helpers.ts';

let broker: BrokerHandle | null = null;
let agg: Aggregator | null = null;
let gw: GatewayService | null = null;

afterEach(async () => {
  await gw?.stop();
  await agg?.end();
  await broker?.close();
  gw = agg = broker = null;
  removeTempDirs();
});

function settled(g: GatewayService): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (g.outboxDepth !== 0) return;
      for (const e of ['sent', 'refused', 'dropped'] as const) g.off(e, check);
      resolve();
    };
    for (const e of ['sent', 'refused', 'dropped'] as const) g.on(e, check);
    check();
  });
}

async function trainOneRound(g: GatewayService, a: Aggregator): Promise<void> {
  const base = await baseModel();
  await feed(g, simulatedRecords());
  const trained = roundEvent(g, 1, 'trained');
  await a.announce(announcement({ roundId: 1, modelVersion: base.manifest.modelVersion, modelSha256: base.manifest.onnx.sha256 }));
  await trained;
}

describe('gateway service: refused publishes', () => {
  it('a publish the broker refuses is set aside and never re-sent; the rest of the outbox goes on', async () => {
    const dir = tempDir('refused');
    await writeGatewayKey(dir);
    broker = await startTestBroker(dir);
    const url = `mqtt://127.0.0.1:${broker.tcpPort}`;
    agg = await Aggregator.connect(url);
    // Misconfigured: the broker knows gw-alice as alice's gateway, so privacy/bob/... is refused.
    const g = await startGateway(gatewayConfig(dir, url, { userId: 'bob', budget: { epsilonMax: 100, delta: 1e-5 } }));
    gw = g;
    await new Promise<void>((r) => g.once('online', () => r()));
    const refused: string[] = [];
    g.on('refused', (e) => refused.push(e.kind));
    const sent: string[] = [];
    g.on('sent', (e) => sent.push(e.kind));
    await trainOneRound(g, agg);
    await settled(g);
    await agg.waitFor(topics.updates(GATEWAY), 1);

    expect(refused).toEqual(['ledger', 'budget']);
    expect(sent).toEqual(['update']);
    // Each refused publish reached the broker exactly once: no replay by mqtt.js after the reconnects.
    expect(await metricTotal(broker.metrics.publishDenied)).toBe(2);
    const aside = Outbox.readRefused(path.join(dir, 'data', 'outbox'));
    expect(aside.map((r) => [r.kind, r.topic])).toEqual([
      ['ledger', topics.privacyLedger('bob')],
      ['budget', topics.privacyBudget('bob')],
    ]);
    const metrics = (await httpGet(g.httpPort, '/metrics')).body;
    expect(promValue(metrics, 'fedwear_gateway_publish_refused_total{kind="ledger"}')).toBe(1);
    expect(promValue(metrics, 'fedwear_gateway_publish_refused_total{kind="budget"}')).toBe(1);
    expect(agg.on_(topics.updates(GATEWAY))).toHaveLength(1);
    expect(agg.on_(topics.privacyLedger(USER))).toHaveLength(0);

    // The link is healthy afterwards, and one more reconnect replays nothing refused.
    const again = new Promise<void>((r) => g.once('online', () => r()));
    (broker.aedes as unknown as { clients: Record<string, { close(): void }> }).clients[GATEWAY].close();
    await again;
    expect(await metricTotal(broker.metrics.publishDenied)).toBe(2);

    // An operator fixes the cause (the broker now has gw-alice as bob's gateway) and requeues.
    const config = g.config;
    expect(() => requeueRefused(config)).toThrow(/in use by another gateway/);
    await g.stop();
    await writeCredentials(dir, 'bob');
    broker.reloadCredentials();
    expect(requeueRefused(config)).toEqual({ requeued: 2, depth: 2 });
    expect(Outbox.readRefused(path.join(dir, 'data', 'outbox'))).toEqual([]);
    const g2 = await startGateway(config);
    gw = g2;
    await settled(g2);
    await agg.waitFor(topics.privacyLedger('bob'), 1);
    await agg.waitFor(topics.privacyBudget('bob'), 1);
    expect(await metricTotal(broker.metrics.publishDenied)).toBe(2);
  });

  it('a connection lost because the broker went down right after a PUBLISH is not a refusal: the message is sent after the broker returns', async () => {
    const dir = tempDir('broker-down');
    await writeGatewayKey(dir);
    const persistence = { type: 'level' as const, path: path.join(dir, 'broker-db') };
    broker = await startTestBroker(dir, { persistence });
    const port = broker.tcpPort as number;
    const url = `mqtt://127.0.0.1:${port}`;
    agg = await Aggregator.connect(url, { clean: false });
    // Reconnect attempts start after the broker's listener is surely closed.
    const g = await startGateway(gatewayConfig(dir, url, { budget: { epsilonMax: 100, delta: 1e-5 }, broker: { url, reconnect: { minMs: 300, maxMs: 600 }, settleMs: 0 } }));
    gw = g;
    await new Promise<void>((r) => g.once('online', () => r()));

    // The broker dies while handling the gateway's first ledger publish (before its PUBACK).
    const b = broker;
    let down: Promise<void> | null = null;
    const authorize = b.aedes.authorizePublish.bind(b.aedes);
    b.aedes.authorizePublish = (client, packet, cb) => {
      if (client?.id === GATEWAY && packet.topic === topics.privacyLedger(USER) && !down) {
        down = agg ? agg.end().then(() => b.close()) : b.close();
        return;
      }
      authorize(client, packet, cb);
    };
    const offline = new Promise<void>((r) => g.once('offline', () => r()));
    await trainOneRound(g, agg);
    await offline;
    await down;
    agg = null;
    broker = await startTestBroker(dir, { persistence, tcp: { host: '127.0.0.1', port } });
    agg = await Aggregator.connect(url, { clean: false });
    await settled(g);
    const a = agg;
    await a.waitFor(topics.updates(GATEWAY), 1);
    await a.waitFor(topics.privacyLedger(USER), 1);
    await a.waitFor(topics.privacyBudget(USER), 1);
    expect(a.received).toHaveLength(3);
    expect(Outbox.readRefused(path.join(dir, 'data', 'outbox'))).toEqual([]);
    expect(promValue((await httpGet(g.httpPort, '/metrics')).body, 'fedwear_gateway_publish_refused_total')).toBeUndefined();
  });
});
