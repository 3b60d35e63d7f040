/**
 * The root's round decisions with real shards on a real mosquitto 2 (in-process startRoot/startShard
 * on mqtt.js clients): a quorum that only copies reached resumes the round instead of closing it
 * short, and a deadline closes a round with at least minUpdates.
 */
import fs from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeShardClose, loadBaseModel, parseAggregatorConfig, startRoot, startShard, topics, type AggregatorConfigInput, type AggregatorHandle, type ShardHandle } from '../../broker/index.ts';
import { parseRoundMetrics, type RoundMetrics } from '../../federation/index.ts';
import { tempDir } from '../broker/harness.ts';
import { aggregatorConfig, decodeModel, deltaFor, expectedFedAvg, makeGateways, MODEL_DIR, seal, writeCredentials, type Gateway } from './helpers.ts';
import { startMosquitto } from '../helpers/servers.ts';

const log = pino({ level: 'silent' });


interface Cluster {
  root: AggregatorHandle;
  shards: ShardHandle[];
  observer: MqttClient;
  publisher: MqttClient;
  gws: Gateway[];
  metrics(round: number): Promise<RoundMetrics>;
  model(version: string): Promise<Buffer>;
  /** Resolves with the first close-topic message with this action. */
  closeAction(action: 'close' | 'resume'): Promise<void>;
  send(i: number, round: number, modelVersion: string): Promise<void>;
}

describe('shard root round decisions on mosquitto 2', { timeout: 60_000 }, () => {
  let cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c();
    cleanup = [];
  });

  async function cluster(over: Partial<AggregatorConfigInput>, shardIds: string[]): Promise<Cluster> {
    const dir = tempDir('agg-shard-rounds');
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const gws = makeGateways(4);
    const credentialsFile = await writeCredentials(dir, gws);
    const mosquitto = await startMosquitto(dir);
    cleanup.push(() => mosquitto.stop());
    const { url, observer: obs } = mosquitto;
    const got = new Map<string, Buffer>();
    const waiters = new Map<string, Array<(p: Buffer) => void>>();
    const wait = (key: string): Promise<Buffer> => (got.has(key) ? Promise.resolve(got.get(key)!) : new Promise((r) => waiters.set(key, [...(waiters.get(key) ?? []), r])));
    obs.on('message', (topic, payload) => {
      let key: string | undefined;
      if (topic === topics.modelCurrent()) key = `model:${decodeModel(payload).manifest.modelVersion}`;
      else if (topic === topics.metricsRounds()) key = `metrics:${parseRoundMetrics(payload).roundId}`;
      else if (topic === topics.shardsClose()) key = `close:${decodeShardClose(payload).action}`;
      if (!key || got.has(key)) return;
      got.set(key, payload);
      for (const w of waiters.get(key) ?? []) w(payload);
    });
    await obs.subscribeAsync([topics.modelCurrent(), topics.metricsRounds(), topics.shardsClose()], { qos: 1 });
    const publisher = await mqtt.connectAsync(url, { clientId: 'publisher', reconnectPeriod: 0 });
    cleanup.push(() => publisher.endAsync(true));

    const base = aggregatorConfig(dir, { credentialsFile, audit: { enabled: false, refuseFaultyUsers: false }, ...over });
    const cfg = (name: string, shards: AggregatorConfigInput['shards']) => parseAggregatorConfig({ ...base, dataDir: path.join(dir, name), shards });
    const root = await startRoot({ config: cfg('root', { role: 'root', expect: shardIds }), broker: { url, username: 'aggregator', clientId: 'aggregator:root' }, credentialsFile, log });
    cleanup.push(() => root.stop());
    const shards: ShardHandle[] = [];
    for (const id of shardIds) {
      const s = await startShard({ config: cfg(`shard-${id}`, { role: 'shard', id }), broker: { url, username: 'aggregator', clientId: `aggregator:${id}` }, credentialsFile, log });
      cleanup.push(() => s.stop());
      shards.push(s);
    }
    return {
      root,
      shards,
      observer: obs,
      publisher,
      gws,
      metrics: (round) => wait(`metrics:${round}`).then((p) => parseRoundMetrics(p)),
      model: (version) => wait(`model:${version}`),
      closeAction: (action) => wait(`close:${action}`).then(() => undefined),
      send: async (i, round, modelVersion) => {
        await publisher.publishAsync(topics.updates(gws[i].username), Buffer.from(seal(gws[i], deltaFor(900 + i), { round, modelVersion })), { qos: 1 });
      },
    };
  }

  it('a quorum reached only with copies held by two shards resumes the round; the next update closes it', async () => {
    const c = await cluster({ round: { durationMs: 600_000, quorum: 3 } }, ['a', 'b']);
    // gw-0 twice in a row lands on both shards; with gw-1 the shards report 3: the quorum, seemingly.
    await c.send(0, 1, 'base-1');
    await c.send(0, 1, 'base-1');
    await c.send(1, 1, 'base-1');
    await c.closeAction('resume');
    expect(c.root.round.id).toBe(1);
    await c.send(2, 1, 'base-1');
    const metrics = await c.metrics(1);
    expect(metrics).toMatchObject({ roundId: 1, accepted: 3, rejected: { duplicate: 1 }, closedBy: 'quorum' });
    const base = await loadBaseModel(MODEL_DIR);
    const expected = expectedFedAvg(base.model.params, [0, 1, 2].map((i) => deltaFor(900 + i)));
    expect(Buffer.from(decodeModel(await c.model('global-1')).params.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
  });

  it('the deadline closes a round with at least minUpdates, counted across shards', async () => {
    const c = await cluster({ round: { durationMs: 1_500, quorum: 10, minUpdates: 2 } }, ['a', 'b']);
    await c.send(0, 1, 'base-1');
    await c.send(1, 1, 'base-1');
    const metrics = await c.metrics(1);
    expect(metrics).toMatchObject({ roundId: 1, accepted: 2, closedBy: 'deadline' });
    const base = await loadBaseModel(MODEL_DIR);
    const expected = expectedFedAvg(base.model.params, [0, 1].map((i) => deltaFor(900 + i)));
    expect(Buffer.from(decodeModel(await c.model('global-1')).params.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
  });
});
