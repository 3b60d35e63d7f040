/**
 * Sharded aggregation against a real mosquitto 2 (Debian, MQTT 5), started here with its own config:
 * a root and three shards (`fedwear aggregator --root` / `--shard <id>`, real child processes) share
 * the update stream through a shared subscription, and publish bit for bit the model a plain
 * aggregator (in this process, on the same client transport) publishes from the same updates on a
 * second mosquitto. Also: a redelivered update counts once, a shard killed mid-round resumes from its
 * journal, and root and shards serve Prometheus text at /metrics (--metrics-port).
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { clientTransport, decodeShardProgress, loadAggregatorConfig, loadBaseModel, serveMetrics, startAggregator, topics, type AggregatorHandle, type MetricsServer, type ShardProgress } from '../../broker/index.ts';
import { parseRoundMetrics, type RoundMetrics } from '../../federation/index.ts';
import { spawnCli, waitForExit, waitForLine, type CliResult } from '../helpers/run-cli.ts';
import { tempDir } from '../broker/harness.ts';
import { aggregatorConfig, decodeModel, deltaFor, expectedFedAvg, makeGateways, MODEL_DIR, seal, writeCredentials, type Gateway } from './helpers.ts';
import { startMosquitto as startMosquittoServer } from '../helpers/servers.ts';

const SHARDS = ['a', 'b', 'c'];
const N = 12;



/** What one broker's observer saw: models by version, round metrics by round, shard progress. */
interface Observed {
  model(version: string): Promise<Buffer>;
  metrics(round: number): Promise<RoundMetrics>;
  /** Per round and shard, the report with the largest accepted count. */
  progress: Map<number, Map<string, ShardProgress>>;
  /** Resolves once the shards together report `n` accepted updates in `round`. */
  acceptedInRound(round: number, n: number): Promise<void>;
}

function observe(client: MqttClient): Observed {
  const waiters = new Map<string, (p: Buffer) => void>();
  const got = new Map<string, Buffer>();
  const wait = (key: string): Promise<Buffer> => (got.has(key) ? Promise.resolve(got.get(key)!) : new Promise((r) => waiters.set(key, r)));
  const seen = (key: string, p: Buffer): void => {
    got.set(key, p);
    waiters.get(key)?.(p);
  };
  const progress = new Map<number, Map<string, ShardProgress>>();
  const total = (round: number): number => [...(progress.get(round)?.values() ?? [])].reduce((a, p) => a + p.accepted, 0);
  const progressWaiters: Array<() => void> = [];
  client.on('message', (topic, payload) => {
    if (topic === topics.modelCurrent()) seen(`model:${decodeModel(payload).manifest.modelVersion}`, payload);
    else if (topic === topics.metricsRounds()) seen(`metrics:${parseRoundMetrics(payload).roundId}`, payload);
    else if (topic.endsWith('/progress')) {
      const p = decodeShardProgress(payload);
      let m = progress.get(p.round);
      if (!m) progress.set(p.round, (m = new Map()));
      if ((m.get(p.shard)?.accepted ?? -1) <= p.accepted) m.set(p.shard, p);
      for (const w of progressWaiters.splice(0)) w();
    }
  });
  const acceptedInRound = async (round: number, n: number): Promise<void> => {
    while (total(round) < n) await new Promise<void>((r) => progressWaiters.push(r));
  };
  return {
    model: (version) => wait(`model:${version}`),
    metrics: (round) => wait(`metrics:${round}`).then((p) => parseRoundMetrics(p)),
    progress,
    acceptedInRound,
  };
}

async function getMetrics(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

const counter = (text: string, line: RegExp): number => Number(line.exec(text)?.[1] ?? NaN);

describe('sharded aggregation on mosquitto 2 (MQTT 5 shared subscriptions)', { timeout: 60_000 }, () => {
  const children: ChildProcess[] = [];
  const clients: MqttClient[] = [];
  const exits = new Map<ChildProcess, Promise<CliResult>>();
  let dir: string;
  let gws: Gateway[];
  let deltas: Float32Array[];
  const brokers: Record<'plain' | 'sharded', { url: string; publisher: MqttClient; observed: Observed }> = {} as never;
  const metricsPorts = new Map<string, number>();

  const startMosquitto = async (name: string): Promise<{ url: string; observer: MqttClient }> => {
    const m = await startMosquittoServer(dir, { name, maxPacketBytes: 262_144, observer: { clientId: `observer-${name}`, protocolVersion: 5 } });
    children.push(m.child);
    clients.push(m.observer);
    return { url: m.url, observer: m.observer };
  };

  const started = new Map<string, ChildProcess>();
  let plainAggregator: AggregatorHandle;
  let plainMetrics: MetricsServer;
  const writeConfig = (name: string): string => {
    const file = path.join(dir, `${name}.yaml`);
    fs.writeFileSync(file, stringify(aggregatorConfig(dir, { dataDir: `data-${name}`, credentialsFile: 'credentials.yaml', round: { durationMs: 600_000, quorum: N }, logLevel: 'info' })));
    return file;
  };
  const startAggregatorCli = async (name: string, url: string, args: string[]): Promise<{ child: ChildProcess; restored: number }> => {
    const child = spawnCli(['aggregator', '--broker', url, '--config', writeConfig(name), '--metrics-port', '0', ...args]);
    children.push(child);
    exits.set(child, waitForExit(child));
    const ready = JSON.parse(await waitForLine(child, 'stdout', /"event":"aggregator-ready"/)) as { metrics: number; role: string; restored: number };
    expect(ready.metrics).toBeGreaterThan(0);
    metricsPorts.set(name, ready.metrics);
    started.set(name, child);
    return { child, restored: ready.restored };
  };

  const publishAll = async (round: number, modelVersion: string, order: number[], to = Object.values(brokers)): Promise<void> => {
    for (const b of to) {
      for (const i of order) {
        await b.publisher.publishAsync(topics.updates(gws[i].username), Buffer.from(seal(gws[i], deltas[i], { round, modelVersion, encoding: 'float32', timestampMs: 1_780_000_000_000 + round })), { qos: 1 });
      }
    }
  };

  beforeAll(async () => {
    dir = tempDir('agg-shards');
    gws = makeGateways(N);
    await writeCredentials(dir, gws);
    deltas = gws.map((_, i) => deltaFor(700 + i));
    const plain = await startMosquitto('plain');
    const sharded = await startMosquitto('sharded');
    for (const [name, b] of [['plain', plain], ['sharded', sharded]] as const) {
      const observed = observe(b.observer);
      await b.observer.subscribeAsync([topics.modelCurrent(), topics.metricsRounds(), 'fedwear/v1/shards/+/progress'], { qos: 1 });
      const publisher = await mqtt.connectAsync(b.url, { clientId: `publisher-${name}`, reconnectPeriod: 0 });
      clients.push(publisher);
      brokers[name] = { url: b.url, publisher, observed };
    }
    const config = { ...loadAggregatorConfig(writeConfig('plain')), logLevel: 'silent' as const };
    const registry = new Registry();
    const log = (await import('pino')).pino({ level: 'silent' });
    plainAggregator = await startAggregator({ config, transport: clientTransport({ url: plain.url, username: 'aggregator', clientId: 'aggregator', log, audit: true }), credentialsFile: config.credentialsFile!, log, registry });
    plainMetrics = await serveMetrics(registry, { host: '127.0.0.1', port: 0, listenError: 'metrics' });
    metricsPorts.set('plain', plainMetrics.port);
    await Promise.all([
      startAggregatorCli('root', sharded.url, ['--root', '--expect', SHARDS.join(',')]),
      ...SHARDS.map((id) => startAggregatorCli(`shard-${id}`, sharded.url, ['--shard', id])),
    ]);
  }, 60_000);

  afterAll(async () => {
    await plainAggregator?.stop();
    await plainMetrics?.close();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    const aggregators = children.filter((c) => exits.has(c));
    for (const c of aggregators) c.kill('SIGTERM');
    const results = await Promise.all(aggregators.map((c) => exits.get(c)!));
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    // Every aggregator stopped cleanly on SIGTERM.
    expect(results.map((r) => r.code)).toEqual(aggregators.map(() => 0));
  });

  it('a root and three shards publish bit for bit the model one aggregator publishes, each shard taking a share', async () => {
    await publishAll(1, 'base-1', gws.map((_, i) => i));
    const [plainModel, shardedModel] = await Promise.all([brokers.plain.observed.model('global-1'), brokers.sharded.observed.model('global-1')]);
    const plainParams = Buffer.from(decodeModel(plainModel).params.buffer);
    const shardedParams = Buffer.from(decodeModel(shardedModel).params.buffer);
    expect(shardedParams.equals(plainParams)).toBe(true);
    // And both are FedAvg of the twelve deltas, computed directly.
    const base = await loadBaseModel(MODEL_DIR);
    expect(plainParams.equals(Buffer.from(expectedFedAvg(base.model.params, deltas).buffer))).toBe(true);

    const [plainMetrics, shardedMetrics] = await Promise.all([brokers.plain.observed.metrics(1), brokers.sharded.observed.metrics(1)]);
    expect(plainMetrics).toMatchObject({ roundId: 1, accepted: N, rejected: {}, closedBy: 'quorum', newModelVersion: 'global-1' });
    expect(shardedMetrics).toMatchObject({ roundId: 1, accepted: N, rejected: {}, closedBy: 'quorum', newModelVersion: 'global-1', bytes: plainMetrics.bytes });
    expect(shardedMetrics.updateNorm.max).toBe(plainMetrics.updateNorm.max);

    // The shared subscription really split the stream: every shard summed some, together all, once.
    const perShard = brokers.sharded.observed.progress.get(1)!;
    expect([...perShard.keys()].sort()).toEqual(SHARDS);
    for (const id of SHARDS) expect(perShard.get(id)!.accepted).toBeGreaterThan(0);
    expect(SHARDS.reduce((n, id) => n + perShard.get(id)!.accepted, 0)).toBe(N);

    // /metrics over HTTP, from each kind of process.
    const plainText = await getMetrics(metricsPorts.get('plain')!);
    expect(counter(plainText, /^fedwear_aggregator_updates_accepted_total (\d+)$/m)).toBe(N);
    expect(plainText).toMatch(/^fedwear_aggregator_rounds_total\{closed_by="quorum"\} 1$/m);
    const rootText = await getMetrics(metricsPorts.get('root')!);
    expect(counter(rootText, /^fedwear_aggregator_updates_accepted_total (\d+)$/m)).toBe(N);
    expect(rootText).toMatch(/^fedwear_aggregator_rounds_total\{closed_by="quorum"\} 1$/m);
    let fromShards = 0;
    for (const id of SHARDS) fromShards += counter(await getMetrics(metricsPorts.get(`shard-${id}`)!), /^fedwear_aggregator_updates_accepted_total (\d+)$/m);
    expect(fromShards).toBe(N);
  });

  it('an update delivered twice lands on two shards and still counts once; the models stay equal', async () => {
    // gw-0's envelope twice in a row, as a QoS 1 redelivery would.
    await publishAll(2, 'global-1', [0, 0, ...gws.slice(1).map((_, i) => i + 1)]);
    const [plainModel, shardedModel] = await Promise.all([brokers.plain.observed.model('global-2'), brokers.sharded.observed.model('global-2')]);
    expect(Buffer.from(decodeModel(shardedModel).params.buffer).equals(Buffer.from(decodeModel(plainModel).params.buffer))).toBe(true);
    const [plainMetrics, shardedMetrics] = await Promise.all([brokers.plain.observed.metrics(2), brokers.sharded.observed.metrics(2)]);
    expect(plainMetrics).toMatchObject({ roundId: 2, accepted: N, rejected: { duplicate: 1 } });
    expect(shardedMetrics).toMatchObject({ roundId: 2, accepted: N, rejected: { duplicate: 1 } });
    // mosquitto hands consecutive messages of a shared subscription to the next member in turn, so
    // the two copies were accepted by two shards (N + 1 in all), and the root left one out.
    const perShard = brokers.sharded.observed.progress.get(2)!;
    expect(SHARDS.reduce((n, id) => n + (perShard.get(id)?.accepted ?? 0), 0)).toBe(N + 1);
    const rootText = await getMetrics(metricsPorts.get('root')!);
    expect(counter(rootText, /^fedwear_aggregator_updates_accepted_total (\d+)$/m)).toBe(2 * N);
    expect(rootText).toMatch(/^fedwear_aggregator_updates_rejected_total\{reason="duplicate"\} 1$/m);
  });

  it('a shard killed mid-round comes back with its journal, and the round still equals the plain aggregator\'s', async () => {
    const first = gws.slice(0, N / 2).map((_, i) => i);
    const rest = gws.slice(N / 2).map((_, i) => i + N / 2);
    await publishAll(3, 'global-2', first);
    await brokers.sharded.observed.acceptedInRound(3, N / 2);
    const held = brokers.sharded.observed.progress.get(3)!.get('a')!.accepted;
    expect(held).toBeGreaterThan(0);
    const victim = started.get('shard-a')!;
    victim.kill('SIGKILL');
    await exits.get(victim);
    exits.delete(victim);
    // Published while shard a is down: mosquitto keeps a's share in its session until it is back.
    await publishAll(3, 'global-2', rest);
    const { restored } = await startAggregatorCli('shard-a', brokers.sharded.url, ['--shard', 'a']);
    expect(restored).toBe(held);
    const [plainModel, shardedModel] = await Promise.all([brokers.plain.observed.model('global-3'), brokers.sharded.observed.model('global-3')]);
    expect(Buffer.from(decodeModel(shardedModel).params.buffer).equals(Buffer.from(decodeModel(plainModel).params.buffer))).toBe(true);
    expect(await brokers.sharded.observed.metrics(3)).toMatchObject({ roundId: 3, accepted: N, rejected: {} });
  });
});
