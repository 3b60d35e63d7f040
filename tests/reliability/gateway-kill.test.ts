/**
 * SIGKILL of the real gateway service (`fedwear gateway run --config`, a child process) at points
 * of a training round chosen by a seeded RNG, against a real aedes broker with the in-process
 * aggregator. The gateway kills itself exactly at the point (FEDWEAR_FAULT_POINT, test-only,
 * gateway/service/fault-point.ts) after announcing it on stderr, so no signal races the event loop.
 *
 * After every kill, with the gateway dead: the ledger verifies and its epsilon is at least the
 * epsilon of every DP-SGD step actually taken so far (counted from the fault lines and the
 * "round trained" log lines); the record store reopens with every record it acknowledged; the
 * outbox reopens without duplicates. The federation goes on (two scripted gateways fill the quorum
 * of 2 when the killed gateway's update is lost by design); at the end every update the gateway
 * ever enqueued was accepted by the aggregator exactly once, and a last, clean run completes a round.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { startBroker, startInProcessAggregator, topics, type AggregatorHandle, type BrokerHandle } from '../../broker/index.ts';
import { encodeFrame } from '../../firmware-bindings/index.ts';
import { Outbox, RecordStore } from '../../gateway/index.ts';
import { seededRng } from '../../models/index.ts';
import { rdpAccountant, readLedgerFile, verifyLedgerFile, writeLedgerKeyPair, type MechanismStep } from '../../privacy/index.ts';
import { aggregatorConfig, deltaFor, makeGateways, passwordOf, seal, writeCredentials, type Gateway } from '../aggregator/helpers.ts';
import { silentLogger } from '../broker/harness.ts';
import { simulatedRecords } from '../gateway-service/helpers.ts';
import { BIN, REPO } from '../helpers/run-cli.ts';
import { removeTempDirs, tempDir } from './temp-dirs.ts';

const SEED = 20261128;
const STEPS = 30;
const Q = 0.2;
const SIGMA = 1.1;
const DELTA = 1e-5;

/** The kill points, in an order and with a training step drawn from the seeded RNG. */
function killPoints(seed: number): string[] {
  const rng = seededRng(seed);
  const points = [`train-step:${Math.floor(rng() * STEPS)}`, `train-step:${Math.floor(rng() * STEPS)}`, 'before-enqueue', 'after-enqueue', 'acked:ledger', 'acked:update'];
  for (let i = points.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [points[i], points[j]] = [points[j], points[i]];
  }
  return points;
}

interface GatewayRun {
  child: ChildProcess;
  lines: string[];
  /** The first stderr line (pino JSON or a fault line) matching, seen already or still to come. */
  log(re: RegExp): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startGatewayProcess(configFile: string, faultPoint?: string): GatewayRun {
  const env = { ...process.env };
  delete env.FEDWEAR_FAULT_POINT;
  if (faultPoint) env.FEDWEAR_FAULT_POINT = faultPoint;
  const child = spawn(process.execPath, [BIN, 'gateway', 'run', '--config', configFile], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  let buf = '';
  child.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters.splice(0)) (w.re.test(line) ? w.resolve(line) : waiters.push(w));
    }
  });
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return {
    child,
    lines,
    exited,
    log: (re) =>
      new Promise<string>((resolve, reject) => {
        const seen = lines.find((l) => re.test(l));
        if (seen !== undefined) return resolve(seen);
        waiters.push({ re, resolve });
        void exited.then(() => reject(new Error(`gateway exited before logging ${re}; stderr tail:\n${lines.slice(-15).join('\n')}`)));
      }).then((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A loopback port nobody listens on (the gateway's first run is offline). */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('reliability: SIGKILL of the gateway service at seeded points of a round', { timeout: 180_000 }, () => {
  const children: ChildProcess[] = [];
  const clients: MqttClient[] = [];
  let broker: BrokerHandle | undefined;
  let agg: AggregatorHandle | undefined;
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await agg?.stop();
    await broker?.close();
    removeTempDirs();
  });

  it('never under-counts the ledger, loses no acknowledged record, duplicates or loses no enqueued update, and the rounds go on', async () => {
    const dir = tempDir('rel-gwkill');
    const points = killPoints(SEED);

    // The gateway's key (its public key registered with the broker) and two scripted gateways.
    const keys = await writeLedgerKeyPair(path.join(dir, 'keys'));
    const alicePriv = createPrivateKey(fs.readFileSync(path.join(dir, 'keys', 'ledger-key.pem')));
    const alice: Gateway = { username: 'gw-alice', userId: 'alice', privateKey: alicePriv, publicKey: createPublicKey(fs.readFileSync(keys.publicKeyPath)) };
    const [h1, h2] = makeGateways(2, 'gwh');
    await writeCredentials(dir, [alice, h1, h2]);
    fs.writeFileSync(path.join(dir, 'password'), passwordOf('gw-alice') + '\n');

    broker = await startBroker(
      {
        credentialsFile: path.join(dir, 'credentials.yaml'),
        tcp: { host: '127.0.0.1', port: 0 },
        persistence: { type: 'memory' },
        limits: { connectionsPerIpPerSecond: 10_000, connectionBurstPerIp: 10_000 },
        aggregator: aggregatorConfig(dir, {
          round: { durationMs: 600_000, quorum: 2 },
          training: { sampleRate: Q, steps: STEPS, noiseMultiplier: SIGMA, maxGradNorm: 1, delta: DELTA, accountant: 'rdp', mu: 0, lr: 0.05, optimizer: 'sgd' },
          update: { normBound: 5, maxBytes: 64 * 1024, encodings: ['float32', 'int8-dense'] },
          audit: { enabled: false },
        }),
      },
      { logger: silentLogger },
    );
    const a = await startInProcessAggregator(broker);
    agg = a;
    const url = `mqtt://127.0.0.1:${broker.tcpPort}`;
    const accepted = new Map<string, number>(); // `${clientId}:${round}` → times accepted
    a.events.on('accepted', ({ update }) => accepted.set(`${update.clientId}:${update.updateRound}`, (accepted.get(`${update.clientId}:${update.updateRound}`) ?? 0) + 1));
    const closed: number[] = [];
    a.events.on('round-closed', (o) => closed.push(o.metrics.roundId));
    const roundClosed = (id: number): Promise<void> =>
      new Promise((resolve) => {
        if (closed.includes(id)) return resolve();
        const on = (o: { metrics: { roundId: number } }): void => {
          if (o.metrics.roundId !== id) return;
          a.events.off('round-closed', on);
          resolve();
        };
        a.events.on('round-closed', on);
      });

    // Scripted gateway h1 sends one update to every round as it opens; h2 only fills a round whose
    // update from the killed gateway was lost by design (a kill before the enqueue).
    const connect = async (g: Gateway): Promise<MqttClient> => {
      const c = await mqtt.connectAsync(url, { clientId: g.username, username: g.username, password: passwordOf(g.username), reconnectPeriod: 0 });
      clients.push(c);
      return c;
    };
    const [c1, c2] = await Promise.all([connect(h1), connect(h2)]);
    const sendUpdate = (c: MqttClient, g: Gateway, round: number, modelVersion: string): Promise<unknown> =>
      c.publishAsync(topics.updates(g.username), Buffer.from(seal(g, deltaFor(round * 10 + (g === h1 ? 1 : 2)), { round, modelVersion })), { qos: 1 });
    const h1Sent = new Set<number>();
    const h1Sends: Array<Promise<unknown>> = [];
    const feedH1 = (): void => {
      const r = a.round;
      if (h1Sent.has(r.id)) return;
      h1Sent.add(r.id);
      h1Sends.push(sendUpdate(c1, h1, r.id, r.modelVersion));
    };
    a.events.on('round-closed', () => feedH1());
    feedH1();

    // The gateway's config; its device is a file of frames (an hour of one user's records).
    const records = simulatedRecords();
    fs.writeFileSync(path.join(dir, 'records.bin'), Buffer.concat(records.map((r) => encodeFrame(r))));
    const configFile = path.join(dir, 'gateway.yaml');
    const writeConfig = (brokerUrl: string, device: Record<string, unknown>): void =>
      fs.writeFileSync(
        configFile,
        stringify({
          userId: 'alice',
          clientId: 'gw-alice',
          passwordFile: 'password',
          broker: { url: brokerUrl, reconnect: { minMs: 50, maxMs: 400 }, settleMs: 0 },
          dataDir: 'data',
          keyFile: 'keys/ledger-key.pem',
          device,
          profile: { sex: 'male', ageY: 22, weightKg: 73.4, heightCm: 173.5, restingHrBpm: 58 },
          budget: { epsilonMax: 100, delta: DELTA, accountant: 'rdp' },
          http: { host: '127.0.0.1', port: 0 },
          training: { minExamples: 20 },
          logLevel: 'debug',
        }),
      );
    const data = path.join(dir, 'data');
    const ledgerFile = path.join(data, 'ledger.jsonl');

    // Kill 0: offline, right after the device file is ingested and acknowledged (the store's point).
    writeConfig(`mqtt://127.0.0.1:${await closedPort()}`, { source: 'file', path: 'records.bin' });
    const run0 = startGatewayProcess(configFile);
    children.push(run0.child);
    const eof = await run0.log(/"msg":"end of the device file"/);
    expect(eof.recordsStored).toBe(records.length);
    run0.child.kill('SIGKILL');
    expect((await run0.exited).signal).toBe('SIGKILL');
    const storedAfter0 = [...RecordStore.readAll(path.join(data, 'records'))];
    expect(storedAfter0).toHaveLength(records.length);
    expect(storedAfter0).toEqual(records);

    // Kills 1..n at the seeded points, online; the device is gone (nothing new to ingest).
    writeConfig(url, { source: 'none' });
    const taken: MechanismStep[] = []; // every DP-SGD step the gateway actually took
    const enqueuedRounds = new Set<number>(); // rounds whose update the gateway ever had in its outbox
    const survived: string[] = [];
    const countTrainedRounds = (run: GatewayRun): void => {
      for (const l of run.lines) {
        if (!l.includes('"msg":"round trained; update queued"')) continue;
        const j = JSON.parse(l) as { steps: number; sigma: number; round: number };
        taken.push({ sampleRate: Q, noiseMultiplier: j.sigma, steps: j.steps });
      }
    };
    for (const point of points) {
      const roundBefore = a.round.id;
      const run = startGatewayProcess(configFile, point);
      children.push(run.child);
      const fault = await run.log(new RegExp(`^\\{"faultPoint":"${point}"`));
      const exit = await run.exited;
      expect(exit.signal, `${point}: ${run.lines.slice(-5).join('\n')}`).toBe('SIGKILL');

      // Steps taken in this run: whole rounds it logged as trained, plus the k steps of a kill at train-step:k.
      countTrainedRounds(run);
      if (point.startsWith('train-step:')) {
        const k = Number(point.split(':')[1]);
        expect(fault.round).toBeGreaterThanOrEqual(roundBefore);
        if (k > 0) taken.push({ sampleRate: Q, noiseMultiplier: SIGMA, steps: k });
      }
      // Killed around the enqueue: the round trained to the end, but its log line never came.
      if (point === 'before-enqueue' || point === 'after-enqueue') taken.push({ sampleRate: Q, noiseMultiplier: SIGMA, steps: STEPS });

      // The ledger verifies and never under-counts.
      const verdict = await verifyLedgerFile(ledgerFile, { publicKey: alice.publicKey, accountant: rdpAccountant, delta: DELTA });
      expect(verdict.faults, point).toEqual([]);
      const spentForReal = taken.length ? rdpAccountant.epsilon(taken, DELTA).epsilon : 0;
      expect(verdict.epsilon, point).toBeGreaterThanOrEqual(spentForReal);
      const entries = (await readLedgerFile(ledgerFile)).lines.flatMap((l) => (l.check.ok ? [l.check.entry] : []));
      expect(new Set(entries.map((e) => e.round)).size, 'one spend per round').toBe(entries.length);

      // The store reopens with every acknowledged record (all of them, since kill 0).
      expect([...RecordStore.readAll(path.join(data, 'records'))]).toHaveLength(records.length);

      // The outbox reopens; no entry twice.
      const box = Outbox.open(path.join(data, 'outbox'));
      const pending = box.pending();
      box.close();
      const keysOf = pending.map((e) => `${e.kind}:${e.roundId ?? e.ledgerIndex ?? e.seq}`).filter((k) => !k.startsWith('budget'));
      expect(new Set(keysOf).size, `${point}: ${keysOf.join(',')}`).toBe(keysOf.length);
      for (const e of pending) if (e.kind === 'update') enqueuedRounds.add(e.roundId as number);
      for (const k of accepted.keys()) if (k.startsWith('gw-alice:')) enqueuedRounds.add(Number(k.split(':')[1]));

      // The round the gateway was killed in: if its update was lost by design (killed before the
      // enqueue), the second scripted gateway fills the quorum so the federation goes on.
      const killedRound = fault.round as number | undefined;
      if (killedRound !== undefined && (point.startsWith('train-step:') || point === 'before-enqueue') && a.round.id === killedRound) {
        expect(entries.some((e) => e.round === killedRound), `${point}: the killed round is charged`).toBe(true);
        await sendUpdate(c2, h2, killedRound, a.round.modelVersion);
        await roundClosed(killedRound);
      }
      survived.push(point);
    }

    // A last, clean run delivers whatever is queued and trains the open round; the round closes
    // with the gateway's update in it.
    const lastRound = a.round.id;
    const final = startGatewayProcess(configFile);
    children.push(final.child);
    await roundClosed(lastRound);
    expect(accepted.get(`gw-alice:${lastRound}`)).toBe(1);
    await final.log(/"msg":"round trained; update queued"/);
    // Sent in order, so once the update's ACK is written the outbox is empty.
    await final.log(new RegExp(`"kind":"update".*"round":${lastRound}.*"msg":"sent"`));
    countTrainedRounds(final);
    final.child.kill('SIGTERM');
    expect((await final.exited).code).toBe(0);
    // The next round may have been trained and queued meanwhile (it opened when lastRound closed):
    // what is left is only that, each once.
    const box = Outbox.open(path.join(data, 'outbox'));
    const left = box.pending();
    box.close();
    expect(left.filter((e) => e.kind === 'update' && (e.roundId as number) <= lastRound)).toEqual([]);
    const leftKeys = left.filter((e) => e.kind !== 'budget').map((e) => `${e.kind}:${e.roundId ?? e.ledgerIndex}`);
    expect(new Set(leftKeys).size).toBe(leftKeys.length);
    await Promise.all(h1Sends);

    // Every update the gateway ever enqueued was accepted exactly once; nothing counted twice.
    enqueuedRounds.add(lastRound);
    for (const r of enqueuedRounds) expect(accepted.get(`gw-alice:${r}`), `round ${r}`).toBe(1);
    for (const [k, n] of accepted) expect(n, k).toBe(1);
    const verdict = await verifyLedgerFile(ledgerFile, { publicKey: alice.publicKey, accountant: rdpAccountant, delta: DELTA });
    expect(verdict.faults).toEqual([]);
    expect(verdict.epsilon).toBeGreaterThanOrEqual(rdpAccountant.epsilon(taken, DELTA).epsilon);
    expect(survived).toEqual(points);
    console.log(JSON.stringify({ reliability: 'gateway-kill', seed: SEED, recordsStored: records.length, killPointsSurvived: survived.length + 1, points: ['after-ingest', ...survived], roundsClosed: closed.length, ledgerEpsilon: verdict.epsilon, epsilonOfStepsTaken: rdpAccountant.epsilon(taken, DELTA).epsilon, stepsTaken: taken.reduce((s, t) => s + t.steps, 0) }));
  });
});
