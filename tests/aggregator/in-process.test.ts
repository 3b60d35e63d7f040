/** The aggregator inside a real aedes broker, with real mqtt.js gateways on loopback. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { loadBaseModel, metricTotal, startBroker, startInProcessAggregator, topics, type AggregatorHandle, type BrokerHandle } from '../../broker/index.ts';
import { parseRoundAnnouncement, parseRoundMetrics, sha256HexOf } from '../../federation/index.ts';
import { connectAs, nextMessage, silentLogger, tcpUrl, tempDir } from '../broker/harness.ts';
import { aggregatorConfig, BODY_SIZE, MODEL_DIR, decodeModel, deltaFor, expectedFedAvg, makeGateways, seal, writeCredentials } from './helpers.ts';

describe('in-process aggregator', { timeout: 30_000 }, () => {
  const gws = makeGateways(4);
  let broker: BrokerHandle;
  let agg: AggregatorHandle;
  let url: string;
  let baseParams: Float32Array;
  const clients: MqttClient[] = [];
  const connect = async (username: string): Promise<MqttClient> => {
    const c = await connectAs(url, username);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    const dir = tempDir('agg-inproc');
    const credentialsFile = await writeCredentials(dir, gws);
    broker = await startBroker(
      {
        credentialsFile,
        tcp: { host: '127.0.0.1', port: 0 },
        persistence: { type: 'memory' },
        limits: { connectionsPerIpPerSecond: 10_000, connectionBurstPerIp: 10_000 },
        aggregator: aggregatorConfig(dir, { round: { durationMs: 60_000, quorum: 3 } }),
      },
      { logger: silentLogger },
    );
    agg = await startInProcessAggregator(broker);
    baseParams = (await loadBaseModel(MODEL_DIR)).model.params;
    url = tcpUrl(broker);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await agg?.stop();
    await broker?.close();
  });

  it('publishes the base model and announces round 1, retained, readable by a gateway', async () => {
    const g = await connect(gws[0].username);
    const round = nextMessage(g, topics.roundsCurrent());
    const model = nextMessage(g, topics.modelCurrent());
    await g.subscribeAsync(topics.roundsCurrent(), { qos: 1 });
    await g.subscribeAsync(topics.modelCurrent(), { qos: 1 });
    const a = parseRoundAnnouncement((await round).payload);
    const m = decodeModel((await model).payload);
    expect(a).toMatchObject({ roundId: 1, modelVersion: 'base-1', quorum: 3, mode: 'sync' });
    expect(m.manifest.modelVersion).toBe('base-1');
    expect(sha256HexOf(m.onnx)).toBe(a.modelSha256);
  });

  it('refuses bad updates with a reason and counts them; completes the round on quorum with the exact FedAvg', async () => {
    const observer = await connect('auditor');
    const operator = await connect('operator');
    const newModel = new Promise<Buffer>((resolve) => {
      observer.on('message', (t, p) => {
        if (t === topics.modelCurrent() && decodeModel(p).manifest.modelVersion === 'global-1') resolve(p);
      });
    });
    await observer.subscribeAsync(topics.modelCurrent(), { qos: 1 });
    const roundMetrics = new Promise<Buffer>((resolve) => operator.on('message', (t, p) => t === topics.metricsRounds() && resolve(p)));
    await operator.subscribeAsync(topics.metricsRounds(), { qos: 1 });

    const rejected: string[] = [];
    agg.events.on('rejected', (r) => rejected.push(r.reason));
    const conns = await Promise.all(gws.slice(0, 3).map((g) => connect(g.username)));
    const deltas = [0, 1, 2].map((i) => deltaFor(100 + i));

    // A forged update (signed with another key) and an oversized one, before the good ones.
    await conns[0].publishAsync(topics.updates(gws[0].username), Buffer.from(seal({ ...gws[0], privateKey: gws[1].privateKey }, deltas[0], { round: 1, modelVersion: 'base-1' })), { qos: 1 });
    await conns[0].publishAsync(topics.updates(gws[0].username), Buffer.from(seal(gws[0], deltaFor(5, 1), { round: 1, modelVersion: 'base-1' })), { qos: 1 });
    expect(agg.acceptedCount).toBe(0);
    expect(agg.rejectedCounts).toEqual({ 'bad-signature': 1, 'norm-exceeded': 1 });

    // The good ones; gw-0 sends its update twice (a QoS 1 redelivery): counted once.
    const first = seal(gws[0], deltas[0], { round: 1, modelVersion: 'base-1' });
    await conns[0].publishAsync(topics.updates(gws[0].username), Buffer.from(first), { qos: 1 });
    // PUBACK came after the durable commit: the update is already counted.
    expect(agg.acceptedCount).toBe(1);
    await conns[0].publishAsync(topics.updates(gws[0].username), Buffer.from(first), { qos: 1 });
    await Promise.all([1, 2].map((i) => conns[i].publishAsync(topics.updates(gws[i].username), Buffer.from(seal(gws[i], deltas[i], { round: 1, modelVersion: 'base-1' })), { qos: 1 })));

    const m = decodeModel(await newModel);
    const expected = expectedFedAvg(baseParams, deltas);
    expect(Buffer.from(m.params.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    expect(sha256HexOf(m.onnx)).toBe((m.manifest as unknown as { onnx: { sha256: string } }).onnx.sha256);
    expect(Array.from(m.params.subarray(BODY_SIZE))).toEqual(Array.from(baseParams.subarray(BODY_SIZE)));

    const metrics = parseRoundMetrics(await roundMetrics);
    expect(metrics).toMatchObject({ roundId: 1, newModelVersion: 'global-1', closedBy: 'quorum', accepted: 3, rejected: { 'bad-signature': 1, 'norm-exceeded': 1, duplicate: 1 } });
    expect(rejected.sort()).toEqual(['bad-signature', 'duplicate', 'norm-exceeded']);
    expect(await metricTotal(agg.metrics.accepted)).toBe(3);
    expect(await metricTotal(agg.metrics.rejected, { reason: 'duplicate' })).toBe(1);
    expect(await broker.metrics.registry.getSingleMetricAsString('fedwear_aggregator_rounds_total')).toMatch(/closed_by="quorum"\} 1/);

    // Round 2 is announced on the new model; a late round-1 update is now stale.
    await agg.idle();
    expect(agg.round).toMatchObject({ id: 2, modelVersion: 'global-1' });
    const late = gws[3];
    const c3 = await connect(late.username);
    await c3.publishAsync(topics.updates(late.username), Buffer.from(seal(late, deltaFor(9), { round: 1, modelVersion: 'base-1' })), { qos: 1 });
    expect(agg.rejectedCounts).toEqual({ 'model-version': 1 });
  });
});
