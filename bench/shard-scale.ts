/**
 * Shard scaling: how much aggregator shards speed up the client-mode aggregator (broker/README.md,
 * "Shards"; docs/scale.md, limit 4). N simulated gateways (default 1,000), each with its own MQTT
 * connection and Ed25519 key, publish one signed int8 update per round (QoS 1) to a real mosquitto 2
 * (MQTT 5, anonymous, on loopback) read by, in turn:
 *   - one plain client-mode aggregator (`fedwear aggregator --broker URL`),
 *   - a root + 1, 2 and 4 shards (`fedwear aggregator --root --expect ...` / `--shard <id>`),
 * every aggregator its own child process of bin/fedwear.mjs, quorum N. Each configuration gets a
 * fresh mosquitto and fresh data dirs, one warm-up round and then --rounds measured ones (default 9).
 * Reports, per configuration, the median time from the first publish to the round's metrics/rounds
 * message, the updates/s it implies, and the time until every gateway has its PUBACK.
 *
 *   npx tsx bench/shard-scale.ts [--clients N] [--rounds R] [--shards 0,1,2,4] [--timeout-s S]   (0 = the plain aggregator; N ≤ 5,000)
 *
 * Needs Debian's mosquitto 2 (/usr/sbin/mosquitto; .ci/run installs it). Bounded: every child is
 * killed and the run abandoned after --timeout-s (default 300).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { decodeShardProgress, topics, type AggregatorConfigInput } from '../broker/index.ts';
import { parseRoundAnnouncement, parseRoundMetrics } from '../federation/index.ts';
import { MAX_CLIENTS, fleetEnvelope, intArg, writeFleet, type FleetGateway } from './fleet.ts';
import { MOSQUITTO, freePort } from '../tests/helpers/servers.ts';
import { median, writeResults, type Measurement } from './harness.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const BIN = path.join(REPO, 'bin/fedwear.mjs');
const SHARD_IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
const PLAIN = 'one client-mode aggregator';


function shardCounts(): number[] {
  const i = process.argv.indexOf('--shards');
  const raw = i >= 0 ? String(process.argv[i + 1]) : '0,1,2,4';
  return raw.split(',').map((x) => {
    const v = Number(x);
    if (!Number.isInteger(v) || v < 0 || v > SHARD_IDS.length) throw new Error(`--shards must be shard counts 0..${SHARD_IDS.length} separated by commas (0: one plain aggregator), got ${JSON.stringify(raw)}`);
    return v;
  });
}

/** Everything started, so that the deadline and a failure can end it all. */
const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
function cleanUpHard(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
}

/** fsyncs per second of a 1.5 KB appended line in the temp folder, for 0.5 s: what a client aggregator is capped by. */
function fsyncRate(dir: string): number {
  const file = path.join(dir, 'fsync-probe');
  const fd = fs.openSync(file, 'a');
  const line = 'x'.repeat(1_500) + '\n';
  let count = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 500) {
    fs.writeSync(fd, line);
    fs.fsyncSync(fd);
    count++;
  }
  const rate = count / ((performance.now() - t0) / 1000);
  fs.closeSync(fd);
  fs.rmSync(file);
  return rate;
}

/** CPU seconds (user + system) a child has used so far, from /proc (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}


/**
 * mosquitto on a free loopback port, anonymous, no persistence. max_queued_messages 0 (no limit):
 * the default 1,000 per session would drop part of a 1,000-update burst queued for one aggregator.
 */
async function startMosquitto(dir: string): Promise<{ url: string; child: ChildProcess; observer: MqttClient }> {
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'max_packet_size 1048576', 'max_queued_messages 0'].join('\n') + '\n');
  // Its log is not read: a pipe nobody drains would stall mosquitto once a thousand connects fill it.
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  children.add(child);
  const url = `mqtt://127.0.0.1:${port}`;
  let observer: MqttClient | undefined;
  while (!observer) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode} (config ${conf})`);
    observer = await mqtt.connectAsync(url, { clientId: 'observer', protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 1_000 }).catch(() => undefined);
    // Refused while the listener is not bound yet (mosquitto's log is block-buffered: no line to wait on).
    if (!observer) await new Promise<void>((r) => setTimeout(r, 100));
  }
  return { url, child, observer };
}

function aggregatorConfig(dir: string, name: string, credentialsFile: string, n: number): string {
  const config: AggregatorConfigInput = {
    dataDir: path.join(dir, `data-${name}`),
    modelDir: path.join(REPO, 'models/base'),
    credentialsFile,
    // No deadline in reach: a round closes on its quorum.
    round: { durationMs: 3_600_000, quorum: n },
    strategy: { name: 'fedavg' },
    training: { sampleRate: 0.05, steps: 20, noiseMultiplier: 1.1, maxGradNorm: 1, delta: 1e-5, lr: 0.05 },
    update: { normBound: 5, encodings: ['int8-dense'] },
    audit: { enabled: false },
    logLevel: 'warn',
  };
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, stringify(config));
  return file;
}

/** `fedwear aggregator ...` as a child; resolves on its aggregator-ready line (with the /metrics port, if asked for). */
async function startAggregatorCli(args: string[]): Promise<{ child: ChildProcess; metricsPort?: number }> {
  const child = spawn(process.execPath, [BIN, 'aggregator', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const ready = await new Promise<{ metrics?: number }>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.includes('"event":"aggregator-ready"'));
      if (line) resolve(JSON.parse(line) as { metrics?: number });
    });
    child.once('exit', (code) => reject(new Error(`fedwear aggregator ${args.join(' ')} exited with ${code} before it was ready`)));
  });
  return { child, metricsPort: ready.metrics };
}

/** A shard's accepted-updates counter, from its /metrics. */
async function acceptedTotal(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const m = /^fedwear_aggregator_updates_accepted_total (\d+)$/m.exec(text);
  if (!m) throw new Error(`no fedwear_aggregator_updates_accepted_total at :${metricsPort}/metrics`);
  return Number(m[1]);
}

/** Waits for messages on the observer by key (`metrics:<round>`, `round:<id>`, `progress:<shard>:<round>`). */
function watch(observer: MqttClient) {
  const seen = new Map<string, { at: number; payload: Buffer }>();
  const waiters = new Map<string, Array<() => void>>();
  const note = (key: string, payload: Buffer): void => {
    if (!seen.has(key)) seen.set(key, { at: performance.now(), payload });
    for (const w of waiters.get(key)?.splice(0) ?? []) w();
  };
  observer.on('message', (topic, payload) => {
    if (topic === topics.metricsRounds()) note(`metrics:${parseRoundMetrics(payload).roundId}`, payload);
    else if (topic === topics.roundsCurrent()) note(`round:${parseRoundAnnouncement(payload).roundId}`, payload);
    else if (topic.endsWith('/progress')) {
      const p = decodeShardProgress(payload);
      note(`progress:${p.shard}:${p.round}`, payload);
    }
  });
  return {
    wait(key: string): Promise<{ at: number; payload: Buffer }> {
      return new Promise((resolve) => {
        if (seen.has(key)) return resolve(seen.get(key)!);
        const list = waiters.get(key) ?? [];
        list.push(() => resolve(seen.get(key)!));
        waiters.set(key, list);
      });
    },
  };
}

interface ConfigResult {
  shards: number;
  closeS: number[];
  ackS: number[];
  /** Per measured round, each shard's accepted count (the shared subscription's split). */
  split: number[][];
  /** Per measured round, CPU seconds used by each kind of process between first publish and close. */
  cpu: Array<{ aggregators: number[]; mosquitto: number; driver: number }>;
}

async function measure(shards: number, fleet: { gateways: FleetGateway[]; credentialsFile: string }, rounds: number): Promise<ConfigResult> {
  const n = fleet.gateways.length;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fedwear-shard-scale-${shards}-`));
  tempDirs.add(dir);
  const broker = await startMosquitto(dir);
  const observed = watch(broker.observer);
  await broker.observer.subscribeAsync([topics.metricsRounds(), topics.roundsCurrent()], { qos: 1 });

  const ids = SHARD_IDS.slice(0, shards);
  const started =
    shards === 0
      ? [await startAggregatorCli(['--broker', broker.url, '--config', aggregatorConfig(dir, 'plain', fleet.credentialsFile, n)])]
      : await Promise.all([
          startAggregatorCli(['--broker', broker.url, '--config', aggregatorConfig(dir, 'root', fleet.credentialsFile, n), '--root', '--expect', ids.join(',')]),
          ...ids.map((id) => startAggregatorCli(['--broker', broker.url, '--config', aggregatorConfig(dir, `shard-${id}`, fleet.credentialsFile, n), '--shard', id, '--metrics-port', '0'])),
        ]);
  const aggregators = started.map((s) => s.child);
  const shardMetricsPorts = started.slice(1).map((s) => s.metricsPort!);
  // Ready to take round `r`: announced, and (sharded) every shard follows it. The shards' progress is
  // read only here, between rounds (retained, so the latest comes on subscribing): during a round a
  // shard publishes it about once per update, and an observer taking them all would load the machine.
  const PROGRESS = 'fedwear/v1/shards/+/progress';
  const readyFor = async (r: number): Promise<void> => {
    await observed.wait(`round:${r}`);
    if (ids.length === 0) return;
    await broker.observer.subscribeAsync(PROGRESS, { qos: 1 });
    await Promise.all(ids.map((id) => observed.wait(`progress:${id}:${r}`)));
    await broker.observer.unsubscribeAsync(PROGRESS);
  };
  let acceptedSoFar = ids.map(() => 0);
  await readyFor(1);

  const clients: MqttClient[] = [];
  const BATCH = 50;
  for (let i = 0; i < n; i += BATCH) {
    const batch = fleet.gateways.slice(i, i + BATCH).map((g) => mqtt.connectAsync(broker.url, { clientId: g.username, reconnectPeriod: 0, keepalive: 600 }));
    clients.push(...(await Promise.all(batch)));
  }

  // Envelopes are sealed before each round's clock starts: the gateways' cost is not the aggregator's.
  const seal = (round: number, modelVersion: string): Buffer[] => fleet.gateways.map((g, i) => Buffer.from(fleetEnvelope(g, i, round, modelVersion)));

  // Round 1 is the warm-up (cold JIT, first fsyncs, the shared subscription's first deliveries).
  let modelVersion = 'base-1';
  const closeS: number[] = [];
  const ackS: number[] = [];
  const split: number[][] = [];
  const cpu: ConfigResult['cpu'] = [];
  const cpuNow = () => ({ aggregators: aggregators.map((a) => cpuSeconds(a.pid!)), mosquitto: cpuSeconds(broker.child.pid!), driver: process.cpuUsage() });
  for (let round = 1; round <= rounds + 1; round++) {
    const envelopes = seal(round, modelVersion);
    const cpu0 = cpuNow();
    const t0 = performance.now();
    const acks = clients.map((c, i) => c.publishAsync(topics.updates(fleet.gateways[i].username), envelopes[i], { qos: 1 }).then(() => performance.now()));
    const ackTimes = await Promise.all(acks);
    const closed = await observed.wait(`metrics:${round}`);
    const cpu1 = cpuNow();
    const r3 = (x: number): number => Math.round(x * 1000) / 1000;
    cpu.push({ aggregators: cpu1.aggregators.map((c, i) => r3(c - cpu0.aggregators[i])), mosquitto: r3(cpu1.mosquitto - cpu0.mosquitto), driver: r3(Object.values(process.cpuUsage(cpu0.driver)).reduce((a, b) => a + b, 0) / 1e6) });
    const metrics = parseRoundMetrics(closed.payload);
    if (metrics.accepted !== n) throw new Error(`${shards} shards, round ${round}: closed with ${metrics.accepted} accepted updates, expected ${n} (rejected ${JSON.stringify(metrics.rejected)})`);
    closeS.push((closed.at - t0) / 1000);
    ackS.push((Math.max(...ackTimes) - t0) / 1000);
    const totals = await Promise.all(shardMetricsPorts.map(acceptedTotal));
    split.push(totals.map((t, i) => t - acceptedSoFar[i]));
    acceptedSoFar = totals;
    modelVersion = metrics.newModelVersion;
    process.stdout.write(`  ${shards === 0 ? 'plain' : `${shards} shard(s)`} round ${round}${round === 1 ? ' (warm-up)' : ''}: closed ${closeS.at(-1)!.toFixed(3)} s, all PUBACKs ${ackS.at(-1)!.toFixed(3)} s${ids.length ? `, split ${split.at(-1)!.join('/')}` : ''}; CPU s ${JSON.stringify(cpu.at(-1))}\n`);
    if (round <= rounds) await readyFor(round + 1);
  }

  await Promise.all(clients.map((c) => c.endAsync(true)));
  for (const a of aggregators) a.kill('SIGTERM');
  const codes = await Promise.all(aggregators.map((a) => (a.exitCode !== null ? Promise.resolve(a.exitCode) : new Promise<number | null>((r) => a.once('exit', (code) => r(code))))));
  for (const a of aggregators) children.delete(a);
  if (codes.some((c) => c !== 0)) process.stderr.write(`shard-scale: an aggregator exited with ${codes.join(', ')} on SIGTERM\n`);
  await broker.observer.endAsync(true);
  broker.child.kill('SIGTERM');
  if (broker.child.exitCode === null) await new Promise((r) => broker.child.once('exit', r));
  children.delete(broker.child);
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
  return { shards, closeS: closeS.slice(1), ackS: ackS.slice(1), split: split.slice(1), cpu: cpu.slice(1) };
}

async function main(): Promise<void> {
  const n = Math.min(intArg('clients', 1_000), MAX_CLIENTS);
  const rounds = intArg('rounds', 9);
  const configs = shardCounts();
  const timeoutMs = intArg('timeout-s', 300) * 1000;
  const deadline = setTimeout(() => {
    process.stderr.write(`shard-scale: gave up after ${timeoutMs / 1000} s\n`);
    cleanUpHard();
    process.exit(2);
  }, timeoutMs);
  const loadBefore = os.loadavg();
  const tStart = performance.now();

  // One fleet (keys and credentials) for every configuration; only its credentials file is used.
  const fleet = await writeFleet({ name: 'shard-scale', n, quorum: n, extraConnections: 0 });
  tempDirs.add(fleet.dir);
  const credentialsFile = path.join(fleet.dir, 'credentials.yaml');
  const fsyncs = fsyncRate(fleet.dir);

  const results: ConfigResult[] = [];
  try {
    for (const shards of configs) {
      process.stdout.write(`${shards === 0 ? PLAIN : `root + ${shards} shard(s)`}, ${n} gateways:\n`);
      results.push(await measure(shards, { gateways: fleet.gateways, credentialsFile }, rounds));
    }
  } catch (err) {
    cleanUpHard();
    throw err;
  }
  fs.rmSync(fleet.dir, { recursive: true, force: true });
  tempDirs.delete(fleet.dir);
  clearTimeout(deadline);
  const totalS = (performance.now() - tStart) / 1000;

  const plain = results.find((r) => r.shards === 0);
  const label = (s: number): string => (s === 0 ? PLAIN : `root + ${s} shard${s === 1 ? '' : 's'}`);
  const measurements: Measurement[] = [];
  for (const r of results) {
    const close = median(r.closeS);
    const rates = r.closeS.map((s) => n / s);
    const ack = median(r.ackS);
    const ref = (value: number, unit: string, ratio: number): Pick<Measurement, 'reference'> =>
      plain && r.shards > 0 ? { reference: { name: PLAIN, value, unit, ratio } } : {};
    const plainClose = plain ? median(plain.closeS) : NaN;
    const plainRate = plain ? median(plain.closeS.map((s) => n / s)) : NaN;
    const plainAck = plain ? median(plain.ackS) : NaN;
    measurements.push(
      { name: `${label(r.shards)}: time to close a round of ${n} updates (first publish → metrics/rounds)`, median: close, unit: 's', runs: r.closeS, ...ref(plainClose, 's', plainClose / close), extra: { cpuSecondsPerRound: r.cpu, ...(r.shards > 0 ? { acceptedPerShard: r.split } : {}) } },
      { name: `${label(r.shards)}: updates validated + journalled + aggregated per second (${n} gateways, int8-dense, 944-param body)`, median: median(rates), unit: 'updates/s', runs: rates, ...ref(plainRate, 'updates/s', median(rates) / plainRate) },
      { name: `${label(r.shards)}: time until all ${n} PUBACKs (mosquitto's, on receipt)`, median: ack, unit: 's', runs: r.ackS, ...ref(plainAck, 's', plainAck / ack) },
    );
  }
  for (const m of measurements) process.stdout.write(`${m.name}: ${m.median.toFixed(3)} ${m.unit}${m.reference ? ` (×${m.reference.ratio.toFixed(2)} vs ${m.reference.name})` : ''}\n`);
  const la = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' / ');
  const file = writeResults(
    'shard-scale',
    measurements,
    `${n} gateways (one MQTT connection and Ed25519 key each, from this process) publish one signed int8-dense update per round, QoS 1, to a fresh mosquitto 2 (Debian, anonymous, persistence off, max_queued_messages 0, max_packet_size 1 MiB) on loopback, read by ${configs.map(label).join(', ')}: every aggregator a child process of bin/fedwear.mjs (FedAvg, quorum ${n}, audit off, data dirs fresh per configuration in ${os.tmpdir()}, where a 1.5 KB append + fsync ran ${fsyncs.toFixed(0)} times a second just before). One warm-up round, then the median over ${rounds} rounds (runs lists them). extra, per measured round: cpuSecondsPerRound, the CPU seconds (user + system, from /proc) each aggregator process (the root first), mosquitto and this driver process used from the first publish to metrics/rounds; acceptedPerShard, each shard's share (its /metrics counter). The observer subscribes metrics/rounds and rounds/current, and reads the shards' progress only between rounds, to start each round once every shard follows it. mosquitto sends the gateway's PUBACK on receipt, so the PUBACK row measures the broker, not the journal; the aggregators acknowledge to mosquitto only after their fsync. All processes (mosquitto, the ${n} gateway connections in this one process, the root and up to 4 shards) share the machine's 2 cores, so shards beyond 2 compete for CPU: what they add is fsyncs in parallel. Whole run ${totalS.toFixed(0)} s. Load average (1/5/15 min) ${la(loadBefore)} before, ${la(os.loadavg())} after.`,
  );
  process.stdout.write(`wrote ${file}\n`);
}

await main();
