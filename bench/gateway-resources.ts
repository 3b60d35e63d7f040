/**
 * The gateway service's footprint, measured on a real `fedwear gateway run` process (so the numbers
 * are the gateway's alone, not the broker's or the simulator's):
 * - resident memory and CPU while three devices stream at 1 Hz (frames of the next simulated second
 *   every wall second, through a FIFO as its device file: decode, store, windows, live onnxruntime
 *   estimates, fsyncs), with an idle MQTT session to a real aedes broker on loopback;
 * - the time of one local fine-tuning round with the base model, from the round announcement to the
 *   update at the aggregator (plan, ledger fsync, DP-SGD, re-quantize, int8 ONNX export, compress +
 *   sign, outbox fsync, live model swap, publish of ledger entry, budget and update).
 * RSS from /proc/<pid>/status (VmRSS), CPU from /proc/<pid>/stat (utime + stime).
 *
 * Run: npx tsx bench/gateway-resources.ts [--seconds N]   (default 30 s of streaming)
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { hashPassword, saveCredentialsFile, startBroker, topics, type CredentialsFile } from '../broker/index.ts';
import { makeUsers, simulateDevice } from '../device-sim/index.ts';
import type { RoundAnnouncement } from '../federation/index.ts';
import { encodeFrame, type DeviceRecord } from '../firmware-bindings/index.ts';
import { loadBaseModel } from '../gateway/index.ts';
import { median, writeResults, type Measurement } from './harness.ts';

const argSeconds = process.argv.indexOf('--seconds');
const STREAM_S = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 30;
const HISTORY_S = 2 * 3600;
const ROUNDS = 5;
const REPO = path.resolve(import.meta.dirname, '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-bench-gateway-'));
const MiB = 1024 * 1024;
const TICK_S = 1 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}
function cpuSecondsOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_S; // utime, stime
}

// Broker with a gateway and an aggregator identity.
const users = [
  { username: 'gw-bench', role: 'gateway', userId: 'bench', passwordHash: await hashPassword('gw-secret', { ln: 10, r: 8, p: 1 }) },
  { username: 'aggregator', role: 'aggregator', passwordHash: await hashPassword('agg-secret', { ln: 10, r: 8, p: 1 }) },
];
saveCredentialsFile(path.join(dir, 'credentials.yaml'), { version: 1, users } as CredentialsFile);
const broker = await startBroker(
  { credentialsFile: path.join(dir, 'credentials.yaml'), tcp: { host: '127.0.0.1', port: 0 }, persistence: { type: 'memory' } },
  { logger: pino({ level: 'silent' }) },
);
const url = `mqtt://127.0.0.1:${broker.tcpPort}`;
fs.writeFileSync(path.join(dir, 'pw'), 'gw-secret');
const fifo = path.join(dir, 'device.fifo');
execFileSync('mkfifo', [fifo]);
fs.writeFileSync(
  path.join(dir, 'gw.json'),
  JSON.stringify({
    userId: 'bench',
    clientId: 'gw-bench',
    passwordFile: 'pw',
    broker: { url, settleMs: 0 },
    dataDir: 'data',
    device: { source: 'file', path: fifo },
    profile: { sex: 'female', ageY: 34, weightKg: 62, heightCm: 168 },
    budget: { epsilonMax: 1e6, delta: 1e-5 },
    http: { port: 0 },
    logLevel: 'warn',
  }),
);

// Three wearables feeding one gateway (their records interleaved in time on one stream).
const sims = makeUsers({ count: 3, seed: 21, clusters: ['endurance-runners', 'cyclists', 'high-bmi-walkers'] });
const start = Date.UTC(2026, 2, 2, 7);
const all: DeviceRecord[] = sims
  .flatMap((u, i) => [...simulateDevice(u, { startMs: start, durationS: HISTORY_S + STREAM_S + 5, seed: 100 + i, schedule: 'session' })])
  .sort((a, b) => a.timestampMs - b.timestampMs);
const historyEnd = start + HISTORY_S * 1000;
const history = all.filter((r) => r.timestampMs < historyEnd);

const child = spawn(process.execPath, [path.join(REPO, 'bin/fedwear.mjs'), 'gateway', 'run', '--config', path.join(dir, 'gw.json')], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
const pid = child.pid as number;
const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
const listening = await new Promise<{ http: number }>((resolve, reject) => {
  createInterface({ input: child.stdout }).on('line', (l) => l.includes('"listening"') && resolve(JSON.parse(l)));
  child.once('exit', (code) => reject(new Error(`gateway exited (${code}) before listening`)));
});
const health = async (): Promise<{ data: { records: number; windows: number; labelledWindows: number }; mqtt: { connected: boolean } }> =>
  (await fetch(`http://127.0.0.1:${listening.http}/health`)).json() as never;
const rssIdle = rssOf(pid);
const device = fs.createWriteStream(fifo);

// Backlog: two hours per device at once (a device syncing what it recorded while away).
let t0 = process.hrtime.bigint();
let cpu0 = cpuSecondsOf(pid);
device.write(Buffer.concat(history.map((r) => encodeFrame(r))));
while ((await health()).data.records < history.length) await sleep(50);
const backlogS = Number(process.hrtime.bigint() - t0) / 1e9;
const backlogCpuS = cpuSecondsOf(pid) - cpu0;
const afterBacklog = await health();
console.log(`backlog: ${history.length} records, ${afterBacklog.data.windows} windows (${afterBacklog.data.labelledWindows} labelled) in ${backlogS.toFixed(2)} s (polled)`);

// Streaming at 1 Hz: every wall second, the frames of the next simulated second.
let cursor = history.length;
const rssSamples: number[] = [];
let streamed = 0;
const windowsBefore = afterBacklog.data.windows;
t0 = process.hrtime.bigint();
cpu0 = cpuSecondsOf(pid);
for (let sec = 1; sec <= STREAM_S; sec++) {
  const until = historyEnd + sec * 1000;
  const batch: DeviceRecord[] = [];
  while (cursor < all.length && all[cursor].timestampMs < until) batch.push(all[cursor++]);
  if (batch.length) device.write(Buffer.concat(batch.map((r) => encodeFrame(r))));
  streamed += batch.length;
  await sleep(1000);
  rssSamples.push(rssOf(pid));
}
const streamWall = Number(process.hrtime.bigint() - t0) / 1e9;
const streamCpuS = cpuSecondsOf(pid) - cpu0;
const cpuPct = (streamCpuS / streamWall) * 100;
const streamWindows = (await health()).data.windows - windowsBefore;
console.log(`streaming ${STREAM_S} s: ${streamed} records, ${streamWindows} windows, CPU ${cpuPct.toFixed(2)}% of one core, RSS median ${(median(rssSamples) / MiB).toFixed(1)} MiB (max ${(Math.max(...rssSamples) / MiB).toFixed(1)})`);

// Rounds: announcement → update at the aggregator.
const base = await loadBaseModel(path.join(REPO, 'models/base'));
const agg = await mqtt.connectAsync(url, { clientId: 'aggregator', username: 'aggregator', password: 'agg-secret', reconnectPeriod: 0 });
await agg.subscribeAsync(topics.updates('gw-bench'), { qos: 1 });
const roundMs: number[] = [];
const roundCpuMs: number[] = [];
let updateBytes = 0;
for (let r = 1; r <= ROUNDS; r++) {
  const a: RoundAnnouncement = {
    v: 1,
    roundId: r,
    modelVersion: base.version,
    modelSha256: base.onnxSha256,
    deadlineMs: Date.now() + 3_600_000,
    quorum: 1,
    mode: 'sync',
    maxStaleness: 0,
    training: { sampleRate: 0.05, steps: 100, noiseMultiplier: 1.0, maxGradNorm: 1, delta: 1e-5, accountant: 'rdp', mu: 0.01, lr: 0.05, optimizer: 'sgd' },
    update: { encodings: ['int8-dense', 'float32'], normBound: 10, maxBytes: 65536 },
  };
  const arrived = new Promise<Buffer>((resolve) => agg.once('message', (_t, p) => resolve(p)));
  const c = cpuSecondsOf(pid);
  const t = process.hrtime.bigint();
  await agg.publishAsync(topics.roundsCurrent(), JSON.stringify(a), { qos: 1, retain: true });
  updateBytes = (await arrived).length;
  roundMs.push(Number(process.hrtime.bigint() - t) / 1e6);
  roundCpuMs.push((cpuSecondsOf(pid) - c) * 1000);
}
const labelled = (await health()).data.labelledWindows;
console.log(`round (base model, ${labelled} labelled windows, q 0.05, 100 steps): ${median(roundMs).toFixed(1)} ms announcement → update at the aggregator, ~${median(roundCpuMs).toFixed(0)} ms gateway CPU (10 ms ticks)`);
const rssEnd = rssOf(pid);

device.end();
child.kill('SIGTERM');
const code = await exited;
await agg.endAsync(true);
await broker.close();
fs.rmSync(dir, { recursive: true, force: true });
if (code !== 0) throw new Error(`gateway exited with ${code}`);

const mib = (b: number): number => Math.round((b / MiB) * 10) / 10;
const measurements: Measurement[] = [
  {
    name: `gateway resident memory, 3 devices at 1 Hz (${STREAM_S} s)`,
    median: mib(median(rssSamples)),
    unit: 'MiB RSS (median of 1-s samples)',
    runs: rssSamples.map(mib),
    extra: { maxMiB: mib(Math.max(...rssSamples)), idleAfterStartMiB: mib(rssIdle), afterRoundsMiB: mib(rssEnd), note: 'a fedwear gateway run process (node + tsx loader + onnxruntime-node)' },
  },
  {
    name: 'gateway CPU, 3 devices at 1 Hz',
    median: Math.round(cpuPct * 100) / 100,
    unit: '% of one core',
    runs: [cpuPct],
    extra: { wallS: streamWall, cpuS: streamCpuS, records: streamed, windowsCut: streamWindows },
  },
  {
    name: 'backlog ingest (3 devices x 2 h through the device stream)',
    median: Math.round(history.length / backlogS),
    unit: 'records/s (polled every 50 ms: a lower bound)',
    runs: [history.length / backlogS],
    extra: { records: history.length, windows: afterBacklog.data.windows, labelledWindows: afterBacklog.data.labelledWindows, wallS: backlogS, cpuS: backlogCpuS },
  },
  {
    name: 'local fine-tuning round, base model 12-32-16-1 (announcement to update at the aggregator)',
    median: median(roundMs),
    unit: 'ms (wall)',
    runs: roundMs,
    extra: { gatewayCpuMsMedian: median(roundCpuMs), gatewayCpuMsRuns: roundCpuMs, labelledExamples: labelled, sampleRate: 0.05, steps: 100, updateBytes },
  },
];
const file = writeResults('gateway-resources', measurements, `load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (2 shared cores); data dir in ${os.tmpdir()}`);
console.log(`wrote ${file}`);
