/**
 * Aggregator load: N simulated gateways (default 1,000) on loopback, each with its own MQTT
 * connection and Ed25519 key, publish one signed int8 update to `fedwear broker` running the
 * in-process aggregator in a child process (round quorum N). Reports the time from the first publish
 * to the round's metrics/rounds message, updates validated + aggregated per second, the time until
 * every PUBACK (each one follows the update's fsynced journal line), and the broker's peak RSS
 * (VmHWM from /proc, so it is the true peak, not a sample).
 *
 *   npx tsx bench/aggregator-load.ts [--clients N] [--timeout-s S]     (N ≤ 5,000)
 *
 * Bounded: the connection count is capped and the whole run is abandoned after --timeout-s (default 180).
 */
import { generateKeyPairSync } from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { hashPassword, saveCredentialsFile, topics, type CredentialsFile } from '../broker/index.ts';
import { compressUpdate, encodeEnvelope, parseRoundMetrics, type TensorShape } from '../federation/index.ts';
import { writeResults, type Measurement } from './harness.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const MAX_CLIENTS = 5_000;
const BODY_SHAPES: TensorShape[] = [[32, 12], [32], [16, 32], [16]];
const BODY_SIZE = 944;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive whole number`);
  return v;
}

function rss(pid: number): { rssKiB: number; peakKiB: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(/\d+/.exec(status.split('\n').find((l) => l.startsWith(key)) ?? '')?.[0] ?? NaN);
  return { rssKiB: kib('VmRSS:'), peakKiB: kib('VmHWM:') };
}

async function main(): Promise<void> {
  const n = Math.min(arg('clients', 1_000), MAX_CLIENTS);
  const timeoutMs = arg('timeout-s', 180) * 1000;
  const deadline = setTimeout(() => {
    process.stderr.write(`aggregator-load: gave up after ${timeoutMs / 1000} s\n`);
    process.exit(2);
  }, timeoutMs);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-agg-load-'));
  const password = 'load-test-password';
  // One hash for every identity: scrypt cost is paid on the broker at CONNECT, as in production.
  const passwordHash = await hashPassword(password, { ln: 10, r: 8, p: 1 });
  const gateways = Array.from({ length: n }, (_, i) => ({ username: `gw-${i}`, userId: `user-${i}`, ...generateKeyPairSync('ed25519') }));
  const credentials: CredentialsFile = {
    version: 1,
    users: [
      ...gateways.map((g) => ({ username: g.username, role: 'gateway' as const, userId: g.userId, passwordHash, publicKey: g.publicKey.export({ type: 'spki', format: 'pem' }).toString() })),
      { username: 'operator', role: 'operator' as const, passwordHash },
    ],
  };
  saveCredentialsFile(path.join(dir, 'credentials.yaml'), credentials);
  const config = {
    credentialsFile: 'credentials.yaml',
    tcp: { host: '127.0.0.1', port: 0 },
    persistence: { type: 'memory' },
    limits: { maxConnections: n + 16, connectionsPerIpPerSecond: 1e6, connectionBurstPerIp: 1e6, connectTimeoutMs: 60_000 },
    logLevel: 'warn',
    aggregator: {
      dataDir: 'aggregator-data',
      modelDir: path.join(REPO, 'models/base'),
      round: { durationMs: 3_600_000, quorum: n },
      strategy: { name: 'fedavg' },
      training: { sampleRate: 0.05, steps: 20, noiseMultiplier: 1.1, maxGradNorm: 1, delta: 1e-5, lr: 0.05 },
      update: { normBound: 5, encodings: ['int8-dense'] },
      audit: { enabled: false },
    },
  };
  fs.writeFileSync(path.join(dir, 'broker.yaml'), stringify(config));

  // Envelopes are sealed before the clock starts: the gateways' cost is not the aggregator's.
  const envelopes = gateways.map((g, i) => {
    const delta = new Float32Array(BODY_SIZE).map((_, j) => 0.01 * Math.sin(i * 7.3 + j));
    const update = compressUpdate(delta, BODY_SHAPES, { encoding: 'int8-dense', random: Math.random });
    return Buffer.from(encodeEnvelope({ modelVersion: 'base-1', roundId: 1, clientId: g.username, timestampMs: Date.now(), update }, g.privateKey));
  });

  const broker = spawn(process.execPath, [path.join(REPO, 'bin/fedwear.mjs'), 'broker', '--config', path.join(dir, 'broker.yaml')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    broker.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /"tcp":(\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    broker.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
  });
  const url = `mqtt://127.0.0.1:${port}`;
  const idle = rss(broker.pid!);

  const observer = await mqtt.connectAsync(url, { clientId: 'operator', username: 'operator', password, reconnectPeriod: 0 });
  const roundClosed = new Promise<{ at: number; payload: Buffer }>((resolve) => observer.on('message', (t, p) => t === topics.metricsRounds() && resolve({ at: performance.now(), payload: p })));
  await observer.subscribeAsync(topics.metricsRounds(), { qos: 1 });

  let peak = idle.peakKiB;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rss(broker.pid!).peakKiB);
    } catch {
      /* the broker exited */
    }
  }, 200);

  const tConnect = performance.now();
  const clients: MqttClient[] = [];
  const BATCH = 50;
  for (let i = 0; i < n; i += BATCH) {
    const batch = gateways.slice(i, i + BATCH).map((g) => mqtt.connectAsync(url, { clientId: g.username, username: g.username, password, reconnectPeriod: 0, keepalive: 600 }));
    clients.push(...(await Promise.all(batch)));
  }
  const connectS = (performance.now() - tConnect) / 1000;
  const connected = rss(broker.pid!);

  const t0 = performance.now();
  const acks = clients.map((c, i) => c.publishAsync(topics.updates(gateways[i].username), envelopes[i], { qos: 1 }).then(() => performance.now()));
  const ackTimes = await Promise.all(acks);
  const allAckedS = (Math.max(...ackTimes) - t0) / 1000;
  const closed = await roundClosed;
  const closeS = (closed.at - t0) / 1000;
  const metrics = parseRoundMetrics(closed.payload);
  clearInterval(sampler);
  const final = rss(broker.pid!);
  peak = Math.max(peak, final.peakKiB);

  await Promise.all(clients.map((c) => c.endAsync(true)));
  await observer.endAsync(true);
  broker.kill('SIGTERM');
  await new Promise((r) => broker.once('exit', r));
  clearTimeout(deadline);
  fs.rmSync(dir, { recursive: true, force: true });
  if (metrics.accepted !== n) throw new Error(`round closed with ${metrics.accepted} accepted updates, expected ${n}`);

  const mb = (kib: number): number => Math.round((kib / 1024) * 10) / 10;
  const measurements: Measurement[] = [
    { name: `time to close a round of ${n} updates (first publish → metrics/rounds)`, median: closeS, unit: 's', runs: [closeS] },
    { name: `updates validated + aggregated per second (${n} gateways, int8-dense, 944-param body)`, median: n / closeS, unit: 'updates/s', runs: [n / closeS] },
    { name: `time until all ${n} PUBACKs (each after its fsynced journal line)`, median: allAckedS, unit: 's', runs: [allAckedS] },
    { name: `broker peak RSS with ${n} connections`, median: mb(peak), unit: 'MiB', runs: [mb(peak)], extra: { idleRssMiB: mb(idle.rssKiB), connectedRssMiB: mb(connected.rssKiB), finalRssMiB: mb(final.rssKiB) } },
    { name: `connect ${n} gateways (scrypt ln=10 each, 50 at a time)`, median: n / connectS, unit: 'connections/s', runs: [n / connectS] },
  ];
  const file = writeResults('aggregator-load', measurements, `One run (not a median): ${n} MQTT connections from this process to a fedwear broker child with the in-process aggregator, on loopback. Envelope ${envelopes[0].length} bytes.`);
  for (const m of measurements) process.stdout.write(`${m.name}: ${m.median.toFixed(2)} ${m.unit}${m.extra ? ' ' + JSON.stringify(m.extra) : ''}\n`);
  process.stdout.write(`wrote ${file}\n`);
}

await main();
