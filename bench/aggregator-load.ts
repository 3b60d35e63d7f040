/**
 * Aggregator load: N simulated gateways on loopback (default: 100, then 1,000), each with its own
 * MQTT connection and Ed25519 key, publish one signed int8 update per round to `fedwear broker`
 * running the in-process aggregator in a child process (round quorum N), for one warm-up round and
 * then --rounds measured ones (default 3). Reports, per N, the median over the measured rounds of
 * the time from the first publish to the round's metrics/rounds message, updates validated +
 * aggregated per second, the time until every PUBACK (each one follows the update's fsynced journal
 * line), and the broker's peak RSS (VmHWM from /proc, so it is the true peak, not a sample).
 *
 *   npx tsx bench/aggregator-load.ts [--clients N[,N...]] [--rounds R] [--timeout-s S]     (N ≤ 5,000)
 *
 * Bounded: the connection count is capped and the whole run is abandoned after --timeout-s (default 300).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { topics } from '../broker/index.ts';
import { parseRoundMetrics } from '../federation/index.ts';
import { FLEET_PASSWORD, MAX_CLIENTS, fleetEnvelope, intArg, processRss, writeFleet } from './fleet.ts';
import { median, writeResults, type Measurement } from './harness.ts';

const REPO = path.resolve(import.meta.dirname, '..');



function clientCounts(): number[] {
  const i = process.argv.indexOf('--clients');
  const raw = i >= 0 ? String(process.argv[i + 1]) : '100,1000';
  return raw.split(',').map((x) => {
    const v = Number(x);
    if (!Number.isInteger(v) || v < 1) throw new Error(`--clients must be positive whole numbers separated by commas, got ${JSON.stringify(raw)}`);
    return Math.min(v, MAX_CLIENTS);
  });
}

async function main(): Promise<void> {
  const sizes = clientCounts();
  const rounds = intArg('rounds', 3);
  const timeoutMs = intArg('timeout-s', 300) * 1000;
  const deadline = setTimeout(() => {
    process.stderr.write(`aggregator-load: gave up after ${timeoutMs / 1000} s\n`);
    process.exit(2);
  }, timeoutMs);
  const loadBefore = os.loadavg();
  const measurements: Measurement[] = [];
  let envelopeBytes = 0;
  for (const n of sizes) {
    const r = await measure(n, rounds);
    envelopeBytes = r.envelopeBytes;
    measurements.push(...r.measurements);
    for (const m of r.measurements) process.stdout.write(`${m.name}: ${m.median.toFixed(2)} ${m.unit}${m.extra ? ' ' + JSON.stringify(m.extra) : ''}\n`);
  }
  clearTimeout(deadline);
  const la = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' / ');
  const file = writeResults(
    'aggregator-load',
    measurements,
    `For each N (${sizes.join(', ')}): N MQTT connections from this process to a fresh fedwear broker child with the in-process aggregator, on loopback; one warm-up round, then the median over ${rounds} rounds (runs lists them; extra.coldRoundS is the warm-up). Envelope ${envelopeBytes} bytes. Load average (1/5/15 min) ${la(loadBefore)} before, ${la(os.loadavg())} after, on a 2-core machine shared with other work.`,
  );
  process.stdout.write(`wrote ${file}\n`);
}

async function measure(n: number, rounds: number): Promise<{ measurements: Measurement[]; envelopeBytes: number }> {
  const { dir, gateways, brokerConfigFile } = await writeFleet({ name: 'agg-load', n, quorum: n, extraConnections: 16 });
  const password = FLEET_PASSWORD;

  const seal = (round: number, modelVersion: string): Buffer[] => gateways.map((g, i) => Buffer.from(fleetEnvelope(g, i, round, modelVersion)));

  const broker = spawn(process.execPath, [path.join(REPO, 'bin/fedwear.mjs'), 'broker', '--config', brokerConfigFile], { stdio: ['ignore', 'pipe', 'inherit'] });
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
  const idle = processRss(broker.pid!);

  const observer = await mqtt.connectAsync(url, { clientId: 'operator', username: 'operator', password, reconnectPeriod: 0 });
  const closedRounds = new Map<number, { at: number; payload: Buffer }>();
  const waiters = new Map<number, () => void>();
  observer.on('message', (t, p) => {
    if (t !== topics.metricsRounds()) return;
    const id = parseRoundMetrics(p).roundId;
    closedRounds.set(id, { at: performance.now(), payload: p });
    waiters.get(id)?.();
  });
  const roundClosed = (id: number): Promise<{ at: number; payload: Buffer }> =>
    new Promise((resolve) => (closedRounds.has(id) ? resolve(closedRounds.get(id)!) : waiters.set(id, () => resolve(closedRounds.get(id)!))));
  await observer.subscribeAsync(topics.metricsRounds(), { qos: 1 });

  let peak = idle.peakKiB;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, processRss(broker.pid!).peakKiB);
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
  const connected = processRss(broker.pid!);

  // Round 1 is the warm-up (cold JIT, first fsyncs); rounds 2..rounds+1 are measured.
  let modelVersion = 'base-1';
  let envelopeBytes = 0;
  const closeS: number[] = [];
  const ackS: number[] = [];
  for (let round = 1; round <= rounds + 1; round++) {
    const envelopes = seal(round, modelVersion);
    envelopeBytes = envelopes[0].length;
    const t0 = performance.now();
    const acks = clients.map((c, i) => c.publishAsync(topics.updates(gateways[i].username), envelopes[i], { qos: 1 }).then(() => performance.now()));
    const ackTimes = await Promise.all(acks);
    const closed = await roundClosed(round);
    const metrics = parseRoundMetrics(closed.payload);
    if (metrics.accepted !== n) throw new Error(`round ${round} closed with ${metrics.accepted} accepted updates, expected ${n}`);
    closeS.push((closed.at - t0) / 1000);
    ackS.push((Math.max(...ackTimes) - t0) / 1000);
    modelVersion = metrics.newModelVersion;
  }
  clearInterval(sampler);
  const final = processRss(broker.pid!);
  peak = Math.max(peak, final.peakKiB);

  await Promise.all(clients.map((c) => c.endAsync(true)));
  await observer.endAsync(true);
  broker.kill('SIGTERM');
  await new Promise((r) => broker.once('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });

  const mb = (kib: number): number => Math.round((kib / 1024) * 10) / 10;
  const [coldClose, ...warmClose] = closeS;
  const [coldAck, ...warmAck] = ackS;
  const rates = warmClose.map((s) => n / s);
  const measurements: Measurement[] = [
    { name: `time to close a round of ${n} updates (first publish → metrics/rounds)`, median: median(warmClose), unit: 's', runs: warmClose, extra: { coldRoundS: coldClose } },
    { name: `updates validated + aggregated per second (${n} gateways, int8-dense, 944-param body)`, median: median(rates), unit: 'updates/s', runs: rates },
    { name: `time until all ${n} PUBACKs (each after its fsynced journal line)`, median: median(warmAck), unit: 's', runs: warmAck, extra: { coldRoundS: coldAck } },
    { name: `broker peak RSS with ${n} connections`, median: mb(peak), unit: 'MiB', runs: [mb(peak)], extra: { idleRssMiB: mb(idle.rssKiB), connectedRssMiB: mb(connected.rssKiB), finalRssMiB: mb(final.rssKiB), rounds: rounds + 1 } },
    { name: `connect ${n} gateways (scrypt ln=10 each, 50 at a time)`, median: n / connectS, unit: 'connections/s', runs: [n / connectS] },
  ];
  return { measurements, envelopeBytes };
}

await main();
