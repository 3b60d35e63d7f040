/**
 * Buffered asynchronous mode (FedBuff) end to end: the real aggregator inside a real aedes broker,
 * gateways over MQTT that connect, publish once and leave, a late gateway whose update was trained
 * on an older model, and an aggregator restart with a half-full buffer. Every published model is
 * checked bit for bit against federation's FedAvg with FedBuff's staleness weighting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { loadBaseModel, parseAggregatorConfig, startBroker, startInProcessAggregator, topics, type AggregatorConfig, type AggregatorHandle, type BrokerHandle } from '../../broker/index.ts';
import { fedAvg, parseRoundAnnouncement, parseRoundMetrics, type ClientUpdate, type RoundMetrics } from '../../federation/index.ts';
import { connectAs, nextMessage, silentLogger, tcpUrl, tempDir } from '../broker/harness.ts';
import { aggregatorConfig, BODY_SIZE, MODEL_DIR, decodeModel, deltaFor, makeGateways, seal, writeCredentials } from './helpers.ts';

/** What the aggregator must produce: FedAvg of the body with FedBuff's 1/sqrt(1+staleness) discount. */
function fedBuff(params: Float32Array, updates: Array<{ delta: Float32Array; staleness: number }>): Float32Array {
  const s = fedAvg({ round: { durationMs: 1, quorum: 1, dp: { minNoiseMultiplier: 1, maxGradNorm: 1, delta: 1e-5 } }, staleness: {} });
  const terms: ClientUpdate[] = updates.map((u, i) => ({ delta: u.delta, weight: 1, clientId: `c${i}`, staleness: u.staleness }));
  const out = Float32Array.from(params);
  out.set(s.aggregate(params.slice(0, BODY_SIZE), terms, {}).params, 0);
  return out;
}

describe('buffered mode (FedBuff) over MQTT with the real aggregator', { timeout: 60_000 }, () => {
  const gws = makeGateways(6);
  let broker: BrokerHandle;
  let agg: AggregatorHandle;
  let config: AggregatorConfig;
  let url: string;
  let observer: MqttClient;
  const models = new Map<string, Float32Array>();
  const modelWaiters = new Map<string, (p: Float32Array) => void>();
  const metrics: RoundMetrics[] = [];
  const clients: MqttClient[] = [];

  const modelVersion = (v: string): Promise<Float32Array> => {
    const have = models.get(v);
    return have ? Promise.resolve(have) : new Promise((resolve) => modelWaiters.set(v, resolve));
  };
  /** A gateway that connects, publishes one update (PUBACK = durable) and disconnects. */
  const publishOnce = async (i: number, delta: Float32Array, round: number, modelVersionName: string): Promise<void> => {
    const c = await connectAs(url, gws[i].username, { clientId: `${gws[i].username}:r${round}` });
    await c.publishAsync(topics.updates(gws[i].username), Buffer.from(seal(gws[i], delta, { round, modelVersion: modelVersionName })), { qos: 1 });
    await c.endAsync();
  };
  const nextRejection = (): Promise<string> => new Promise((resolve) => agg.events.once('rejected', (r) => resolve(r.reason)));

  beforeAll(async () => {
    const dir = tempDir('agg-buffered');
    const credentialsFile = await writeCredentials(dir, gws);
    broker = await startBroker(
      { credentialsFile, tcp: { host: '127.0.0.1', port: 0 }, persistence: { type: 'memory' }, limits: { connectionsPerIpPerSecond: 10_000, connectionBurstPerIp: 10_000 } },
      { logger: silentLogger },
    );
    // A long deadline: in buffered mode only the buffer closes a round here.
    config = parseAggregatorConfig(aggregatorConfig(dir, { mode: 'buffered', buffered: { bufferSize: 3, maxStaleness: 1 }, round: { durationMs: 600_000, quorum: 3 } }));
    agg = await startInProcessAggregator(broker, config);
    url = tcpUrl(broker);
    observer = await connectAs(url, 'operator');
    clients.push(observer);
    const auditor = await connectAs(url, 'auditor');
    clients.push(auditor);
    auditor.on('message', (t, p) => {
      if (t !== topics.modelCurrent()) return;
      const m = decodeModel(p);
      models.set(m.manifest.modelVersion, m.params);
      modelWaiters.get(m.manifest.modelVersion)?.(m.params);
    });
    observer.on('message', (t, p) => t === topics.metricsRounds() && metrics.push(parseRoundMetrics(p)));
    await auditor.subscribeAsync(topics.modelCurrent(), { qos: 1 });
    await observer.subscribeAsync(topics.metricsRounds(), { qos: 1 });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await agg?.stop();
    await broker?.close();
  });

  it('announces buffered mode with its buffer size and staleness window', async () => {
    const c = await connectAs(url, gws[0].username, { clientId: `${gws[0].username}:look` });
    clients.push(c);
    const round = nextMessage(c, topics.roundsCurrent());
    await c.subscribeAsync(topics.roundsCurrent(), { qos: 1 });
    expect(parseRoundAnnouncement((await round).payload)).toMatchObject({ roundId: 1, modelVersion: 'base-1', mode: 'buffered', quorum: 3, maxStaleness: 1 });
  });

  it('keeps a half-full buffer across an aggregator restart and aggregates every K updates', async () => {
    const base = (await loadBaseModel(MODEL_DIR)).model.params;
    const d = [deltaFor(11), deltaFor(12), deltaFor(13)];
    await publishOnce(0, d[0], 1, 'base-1');
    await publishOnce(1, d[1], 1, 'base-1');
    expect(agg.acceptedCount).toBe(2);

    // The aggregator goes away with two updates buffered; both were acknowledged, so both must count.
    await agg.stop();
    agg = await startInProcessAggregator(broker, config);
    expect(agg.acceptedCount).toBe(2);
    expect(agg.round).toMatchObject({ id: 1, modelVersion: 'base-1' });

    const global1 = modelVersion('global-1');
    await publishOnce(2, d[2], 1, 'base-1');
    expect(Array.from(await global1)).toEqual(Array.from(fedBuff(base, d.map((delta) => ({ delta, staleness: 0 })))));
    expect(agg.round).toMatchObject({ id: 2, modelVersion: 'global-1' });
  });

  it('accepts a late update trained on the previous model, discounted by its staleness, and refuses a mislabelled one', async () => {
    const global1 = await modelVersion('global-1');
    // A gateway that trained on base-1 during round 1 and only now comes back online.
    const late = deltaFor(21);
    await publishOnce(3, late, 1, 'base-1');
    expect(agg.acceptedCount).toBe(1);
    // Round 1 with the round-2 model: not staleness, a mistake.
    const refused = nextRejection();
    await publishOnce(4, deltaFor(22), 1, 'global-1');
    expect(await refused).toBe('model-version');
    // A gateway that already contributed to round 1 (in the previous buffer) cannot add a second
    // round-1 update: the seen set of the staleness window survives the round change.
    const dup = nextRejection();
    await publishOnce(0, deltaFor(23), 1, 'base-1');
    expect(await dup).toBe('replay');

    const fresh = [deltaFor(24), deltaFor(25)];
    const global2 = modelVersion('global-2');
    await publishOnce(4, fresh[0], 2, 'global-1');
    await publishOnce(5, fresh[1], 2, 'global-1');
    const want = fedBuff(global1, [{ delta: late, staleness: 1 }, { delta: fresh[0], staleness: 0 }, { delta: fresh[1], staleness: 0 }]);
    expect(Array.from(await global2)).toEqual(Array.from(want));
    // The discount really applied: undiscounted FedAvg differs.
    expect(Array.from(await global2)).not.toEqual(Array.from(fedBuff(global1, [late, ...fresh].map((delta) => ({ delta, staleness: 0 })))));
  });

  it('refuses an update older than the staleness window and reports every buffer in metrics/rounds', async () => {
    expect(agg.round).toMatchObject({ id: 3, modelVersion: 'global-2' });
    // Trained on base-1 in round 1: two rounds behind, the window is one.
    const refused = nextRejection();
    await publishOnce(1, deltaFor(31), 1, 'base-1');
    expect(await refused).toBe('model-version');
    const old = nextRejection();
    await publishOnce(2, deltaFor(32), 1, 'global-2');
    expect(await old).toBe('stale-round');
    expect(agg.acceptedCount).toBe(0);

    const byRound = new Map(metrics.map((m) => [m.roundId, m]));
    expect(byRound.get(1)).toMatchObject({ closedBy: 'buffer', accepted: 3, modelVersion: 'base-1', newModelVersion: 'global-1' });
    expect(byRound.get(2)).toMatchObject({ closedBy: 'buffer', accepted: 3, modelVersion: 'global-1', newModelVersion: 'global-2', rejected: { 'model-version': 1, replay: 1 } });
  });
});
