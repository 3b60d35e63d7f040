/**
 * Scale-out cost: `fedwear broker` processes sharing one redis-server (Redis persistence and the
 * Redis emitter, broker/README.md "Scale-out with Redis") against one broker on its own.
 *
 * 1. Throughput: a publisher sends N QoS 1 messages (1 KiB, not retained) as fast as mqtt.js lets
 *    it; a subscriber counts them; rate = N / (first publish → last arrival). Four set-ups: one
 *    broker with memory persistence (today's single-broker path minus the disk), one broker with
 *    Redis persistence and aedes's in-process emitter (the store's share of the cost), and two
 *    brokers with Redis persistence and the Redis emitter: publisher and subscriber both on A, and
 *    publish on A / receive on B.
 * 2. Latency: one message at a time, publish → arrival, median over sequential messages.
 * 3. A round: K scripted gateways publish one signed int8 update each; the aggregator runs as a
 *    client (`fedwear aggregator`, one fsync per update) with quorum K; time from the first publish to
 *    metrics/rounds. One broker, against gateways on A and the aggregator on B.
 *
 *   npx tsx bench/redis-scale.ts [--messages N] [--gateways K] [--rounds R]
 *
 * Every process (redis-server, brokers, aggregator, and this client process) shares the machine's
 * cores, as it would on one small host; the numbers are the cost of the extra hops, not of a network.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { topics } from '../broker/index.ts';
import { parseRoundAnnouncement, parseRoundMetrics } from '../federation/index.ts';
import { aggregatorConfig, deltaFor, makeGateways, passwordOf, seal, writeCredentials, type Gateway } from '../tests/aggregator/helpers.ts';
import { tempDir } from '../tests/broker/harness.ts';
import { startRedis } from '../tests/broker/redis-harness.ts';
import { spawnCli, waitForLine } from '../tests/helpers/run-cli.ts';
import { median, writeResults, type Measurement } from './harness.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1 || v > 100_000) throw new Error(`--${name} must be a whole number in 1..100000`);
  return v;
}

interface Broker {
  child: ChildProcess;
  url: string;
}

async function startBroker(dir: string, name: string, persistence: Record<string, unknown>, emitter?: Record<string, unknown>): Promise<Broker> {
  const config = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(
    config,
    stringify({
      credentialsFile: 'credentials.yaml',
      tcp: { host: '127.0.0.1', port: 0 },
      persistence,
      ...(emitter ? { emitter } : {}),
      limits: { maxConnections: 10_000, connectionsPerIpPerSecond: 1e6, connectionBurstPerIp: 1e6 },
      logLevel: 'warn',
    }),
  );
  const child = spawnCli(['broker', '--config', config]);
  child.stderr!.pipe(process.stderr);
  const line = await waitForLine(child, 'stdout', /"event":"listening"/);
  return { child, url: `mqtt://127.0.0.1:${(JSON.parse(line) as { tcp: number }).tcp}` };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const connect = (url: string, username: string, clientId = username): Promise<MqttClient> =>
  mqtt.connectAsync(url, { username, password: passwordOf(username), clientId, reconnectPeriod: 0, keepalive: 600 });

/** N QoS 1 publishes on `pubUrl`, counted on `subUrl`: messages per second, first publish → last arrival. */
async function throughput(pubUrl: string, subUrl: string, n: number, runs: number): Promise<number[]> {
  const sub = await connect(subUrl, 'gw-0');
  await sub.subscribeAsync(topics.roundsCurrent(), { qos: 1 });
  const pub = await connect(pubUrl, 'aggregator');
  const payload = Buffer.alloc(1024, 7);
  const rates: number[] = [];
  for (let r = 0; r <= runs; r++) {
    let got = 0;
    const all = new Promise<number>((resolve) => {
      const on = (): void => {
        if (++got < n) return;
        sub.off('message', on);
        resolve(performance.now());
      };
      sub.on('message', on);
    });
    const t0 = performance.now();
    for (let i = 0; i < n; i++) pub.publish(topics.roundsCurrent(), payload, { qos: 1 });
    const t1 = await all;
    if (r > 0) rates.push(n / ((t1 - t0) / 1000)); // run 0 is the warm-up
  }
  await Promise.all([sub.endAsync(true), pub.endAsync(true)]);
  return rates;
}

/** One message in flight at a time: publish → arrival, in ms. */
async function latency(pubUrl: string, subUrl: string, n: number): Promise<number[]> {
  const sub = await connect(subUrl, 'gw-0');
  await sub.subscribeAsync(topics.roundsCurrent(), { qos: 1 });
  const pub = await connect(pubUrl, 'aggregator');
  const out: number[] = [];
  for (let i = 0; i < n + 20; i++) {
    const arrived = new Promise<number>((resolve) => sub.once('message', () => resolve(performance.now())));
    const t0 = performance.now();
    pub.publish(topics.roundsCurrent(), `m${i}`, { qos: 1 });
    const t1 = await arrived;
    if (i >= 20) out.push(t1 - t0); // the first 20 warm up both ends
  }
  await Promise.all([sub.endAsync(true), pub.endAsync(true)]);
  return out;
}

/** R rounds of K signed updates; seconds from the first publish of a round to its metrics/rounds. */
async function rounds(dir: string, gwUrl: string, aggUrl: string, gws: Gateway[], r: number): Promise<number[]> {
  const k = gws.length;
  fs.writeFileSync(path.join(dir, 'aggregator.yaml'), stringify(aggregatorConfig(dir, { dataDir: 'aggregator-data', credentialsFile: 'credentials.yaml', round: { durationMs: 3_600_000, quorum: k }, update: { normBound: 5, maxBytes: 64 * 1024, encodings: ['int8-dense'] }, audit: { enabled: false, refuseFaultyUsers: false } })));
  fs.writeFileSync(path.join(dir, 'aggregator.password'), passwordOf('aggregator') + '\n');
  const agg = spawnCli(['aggregator', '--broker', aggUrl, '--password-file', path.join(dir, 'aggregator.password'), '--config', path.join(dir, 'aggregator.yaml')]);
  agg.stderr!.pipe(process.stderr);
  await waitForLine(agg, 'stdout', /"event":"aggregator-ready"/);
  const observer = await connect(gwUrl, 'operator');
  const metrics: Array<(p: Buffer) => void> = [];
  observer.on('message', (t, p) => t === topics.metricsRounds() && metrics.shift()?.(p));
  await observer.subscribeAsync(topics.metricsRounds(), { qos: 1 });
  const clients = await Promise.all(gws.map((g) => connect(gwUrl, g.username)));
  const announcements: Buffer[] = [];
  let announced: (() => void) | undefined;
  clients[0].on('message', (t, p) => {
    if (t !== topics.roundsCurrent()) return;
    announcements.push(p);
    announced?.();
  });
  await clients[0].subscribeAsync(topics.roundsCurrent(), { qos: 1 });
  const times: number[] = [];
  for (let round = 1; round <= r; round++) {
    const a = await new Promise<ReturnType<typeof parseRoundAnnouncement>>((resolve) => {
      const check = (): void => {
        const last = announcements.at(-1);
        const parsed = last && parseRoundAnnouncement(last);
        if (parsed && parsed.roundId === round) {
          announced = undefined;
          resolve(parsed);
        }
      };
      announced = check;
      check();
    });
    const envelopes = gws.map((g, i) => Buffer.from(seal(g, deltaFor(round * 1000 + i), { round: a.roundId, modelVersion: a.modelVersion, encoding: 'int8-dense', timestampMs: Date.now() })));
    const closed = new Promise<Buffer>((resolve) => metrics.push(resolve));
    const t0 = performance.now();
    await Promise.all(clients.map((c, i) => c.publishAsync(topics.updates(gws[i].username), envelopes[i], { qos: 1 })));
    const m = parseRoundMetrics(await closed);
    const s = (performance.now() - t0) / 1000;
    if (m.roundId !== round || m.accepted !== k) throw new Error(`round ${m.roundId} closed with ${m.accepted} accepted updates, expected round ${round} with ${k}`);
    times.push(s);
  }
  await Promise.all([...clients, observer].map((c) => c.endAsync(true)));
  await stop(agg);
  fs.rmSync(path.join(dir, 'aggregator-data'), { recursive: true, force: true });
  return times;
}

async function main(): Promise<void> {
  const n = arg('messages', 5_000);
  const k = arg('gateways', 50);
  const r = arg('rounds', 5);
  const runs = 5;
  const deadline = setTimeout(() => {
    process.stderr.write('redis-scale: gave up after 600 s\n');
    process.exit(2);
  }, 600_000);

  // The machine is shared: the load average says how much else was running.
  const loadBefore = os.loadavg()[0];
  const dir = tempDir('redis-scale');
  // gw-0 doubles as the throughput subscriber; the aggregator reads the gateways' public keys here.
  const gws = makeGateways(k);
  await writeCredentials(dir, gws);
  const redis = await startRedis();
  const children: ChildProcess[] = [];
  const measurements: Measurement[] = [];
  const rate = (name: string, xs: number[], extra?: Record<string, unknown>): void => {
    measurements.push({ name, median: median(xs), unit: 'messages/s', runs: xs, ...(extra ? { extra } : {}) });
    process.stdout.write(`${name}: ${median(xs).toFixed(0)} messages/s\n`);
  };
  const ms = (name: string, xs: number[]): void => {
    const sorted = [...xs].sort((x, y) => x - y);
    measurements.push({ name, median: median(xs), unit: 'ms', runs: [], extra: { samples: xs.length, p90: sorted[Math.floor(0.9 * (sorted.length - 1))] } });
    process.stdout.write(`${name}: ${median(xs).toFixed(2)} ms\n`);
  };
  const secs = (name: string, xs: number[]): void => {
    measurements.push({ name, median: median(xs), unit: 's', runs: xs });
    process.stdout.write(`${name}: ${median(xs).toFixed(3)} s\n`);
  };
  try {
    const single = await startBroker(dir, 'single', { type: 'memory' });
    children.push(single.child);
    rate(`one broker, memory persistence: ${n} QoS 1 messages of 1 KiB`, await throughput(single.url, single.url, n, runs));
    ms('one broker, memory persistence: publish → arrival, one at a time', await latency(single.url, single.url, 300));
    secs(`one broker, memory persistence: a round of ${k} signed updates, aggregator as a client`, await rounds(dir, single.url, single.url, gws, r));
    await stop(single.child);

    // Redis persistence without the shared emitter: which part of the cost is the store's.
    const alone = await startBroker(dir, 'alone', { type: 'redis', url: `${redis.url}/1` });
    children.push(alone.child);
    rate(`one broker, Redis persistence, in-process emitter: ${n} QoS 1 messages of 1 KiB`, await throughput(alone.url, alone.url, n, runs));
    ms('one broker, Redis persistence, in-process emitter: publish → arrival, one at a time', await latency(alone.url, alone.url, 300));
    await stop(alone.child);

    const a = await startBroker(dir, 'a', { type: 'redis', url: redis.url }, { type: 'redis' });
    children.push(a.child);
    const b = await startBroker(dir, 'b', { type: 'redis', url: redis.url }, { type: 'redis' });
    children.push(b.child);
    rate(`Redis-backed, publish and receive on A: ${n} QoS 1 messages of 1 KiB`, await throughput(a.url, a.url, n, runs));
    rate(`Redis-backed, publish on A, receive on B: ${n} QoS 1 messages of 1 KiB`, await throughput(a.url, b.url, n, runs));
    ms('Redis-backed, same broker: publish → arrival, one at a time', await latency(a.url, a.url, 300));
    ms('Redis-backed, publish on A → arrival on B, one at a time', await latency(a.url, b.url, 300));
    secs(`Redis-backed, gateways on A, aggregator (client) on B: a round of ${k} signed updates`, await rounds(dir, a.url, b.url, gws, r));
  } finally {
    for (const c of children) await stop(c);
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    clearTimeout(deadline);
  }
  const file = writeResults(
    'redis-scale',
    measurements,
    `Every process on this one machine: redis-server 7 (Debian, no persistence to disk), fedwear broker children, the aggregator child (rounds), and this process holding the MQTT clients. Throughput: median of ${runs} runs after a warm-up run. Rounds: median of ${r} rounds of ${k} gateways (int8-dense envelopes, the aggregator fsyncs each update before its PUBACK). 1-minute load average ${loadBefore.toFixed(1)} before and ${os.loadavg()[0].toFixed(1)} after, on ${os.cpus().length} cores.`,
  );
  process.stdout.write(`wrote ${file}\n`);
}

await main();
