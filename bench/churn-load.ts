/**
 * Churn load: N gateways (default 1,000) on loopback, each with its own MQTT connection and Ed25519
 * key, run R sync rounds (default 10) against `fedwear broker` with the in-process aggregator in a
 * child process, while 10% of them disconnect each round: 5% are offline for the round (drawn afresh
 * each round, so some come back the next round and some later), 5% are cut while publishing (half
 * after the whole PUBLISH was sent, half mid-packet) and reconnect and re-send, as a QoS 1 client
 * does. The quorum is the number of online gateways, so a round closes only when every acknowledged
 * update was counted; afterwards each acknowledged update is checked against the aggregator's own
 * record (its "update accepted" log line, written after the fsynced journal line) and the round's
 * metrics: counted exactly once, nothing else counted. Any fault fails the run.
 *
 * Reports per-round time (first publish → metrics/rounds) and broker RSS after each round, and the
 * broker's peak RSS (VmHWM). RSS cannot tell live memory from pages V8 keeps without GC pressure, so
 * the same churn then runs once more with the broker and aggregator in this process, and the live
 * heap after a full GC is read after each round. The driver is tests/reliability/churn.ts (also used
 * by churn.test.ts).
 *
 *   npx tsx bench/churn-load.ts [--clients N] [--rounds R] [--timeout-s S]     (N ≤ 5,000)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { pino } from 'pino';
import { startBroker, startInProcessAggregator } from '../broker/index.ts';
import { churnFaults, runChurn, type ChurnGateway, type ChurnRound } from '../tests/reliability/churn.ts';
import { FLEET_PASSWORD as password, MAX_CLIENTS, fleetEnvelope, intArg, processRss, writeFleet } from './fleet.ts';
import { median, writeResults, type Measurement } from './harness.ts';

const REPO = path.resolve(import.meta.dirname, '..');



const mb = (kib: number): number => Math.round((kib / 1024) * 10) / 10;

async function main(): Promise<void> {
  const n = Math.min(intArg('clients', 1_000), MAX_CLIENTS);
  const rounds = intArg('rounds', 10);
  const timeoutMs = intArg('timeout-s', 600) * 1000;
  const leavers = Math.round(n * 0.05);
  const midPublish = Math.round(n * 0.05);
  const deadline = setTimeout(() => {
    process.stderr.write(`churn-load: gave up after ${timeoutMs / 1000} s\n`);
    process.exit(2);
  }, timeoutMs);
  const loadBefore = os.loadavg();

  // aggregator logLevel info: one "update accepted" line per journaled update, the record the
  // acknowledged updates are checked against. No deadline in reach: a round closes when every
  // online gateway's update is counted.
  const { dir, gateways, brokerConfigFile, config } = await writeFleet({ name: 'churn-load', n, quorum: n - leavers, extraConnections: 64, aggregatorLogLevel: 'info' });

  const broker = spawn(process.execPath, [path.join(REPO, 'bin/fedwear.mjs'), 'broker', '--config', brokerConfigFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const accepted = new Map<number, string[]>();
  const acceptedWaiters = new Set<() => void>();
  let errBuf = '';
  broker.stderr!.on('data', (d: Buffer) => {
    errBuf += d.toString();
    const lines = errBuf.split('\n');
    errBuf = lines.pop()!;
    for (const line of lines) {
      let rec: { msg?: string; round?: number; clientId?: string; level?: number };
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch {
        process.stderr.write(line + '\n');
        continue;
      }
      if (rec.msg === 'update accepted' && rec.round !== undefined && rec.clientId !== undefined) accepted.set(rec.round, [...(accepted.get(rec.round) ?? []), rec.clientId]);
      else if ((rec.level ?? 0) >= 40) process.stderr.write(line + '\n');
    }
    for (const w of acceptedWaiters) w();
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    broker.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /"tcp":(\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    broker.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
  });
  const idle = processRss(broker.pid!);

  // Envelopes are sealed before each round's clock starts: the gateways' cost is not the aggregator's.
  const envelopeOf = (g: ChurnGateway, round: number, modelVersion: string): Uint8Array => fleetEnvelope(g, Number(g.username.slice(3)), round, modelVersion);
  const perRound: Array<{ round: number; rssMiB: number; closeS: number; ackedS: number; rejected: Record<string, number>; cutAfterSend: number; cutMidPacket: number; returned: number }> = [];
  const faults: string[] = [];
  const tStart = performance.now();
  const reports: ChurnRound[] = await runChurn({
    url: `mqtt://127.0.0.1:${port}`,
    gateways,
    rounds,
    leavers,
    midPublish,
    seed: 7,
    observer: { username: 'operator', password },
    envelope: envelopeOf,
    // The log line may trail the round's metrics message through the pipe: wait for the count.
    acceptedIn: (round, expected) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if ((accepted.get(round)?.length ?? 0) < expected) return;
          acceptedWaiters.delete(check);
          clearTimeout(t);
          resolve(accepted.get(round)!);
        };
        const t = setTimeout(() => {
          acceptedWaiters.delete(check);
          reject(new Error(`round ${round}: ${accepted.get(round)?.length ?? 0} "update accepted" lines, metrics say ${expected}`));
        }, 30_000);
        acceptedWaiters.add(check);
        check();
      }),
    onRoundClosed: (r) => {
      faults.push(...churnFaults(r, n - leavers));
      const now = processRss(broker.pid!);
      perRound.push({ round: r.round, rssMiB: mb(now.rssKiB), closeS: r.closeS, ackedS: r.ackedS, rejected: r.metrics.rejected, cutAfterSend: r.cutAfterSend, cutMidPacket: r.cutMidPacket, returned: r.returned });
      process.stdout.write(`round ${r.round}: all PUBACKs ${r.ackedS.toFixed(2)} s and closed ${r.closeS.toFixed(2)} s after the first publish, broker RSS ${mb(now.rssKiB)} MiB, accepted ${r.metrics.accepted}, rejected ${JSON.stringify(r.metrics.rejected)}\n`);
    },
  });
  const totalS = (performance.now() - tStart) / 1000;
  const final = processRss(broker.pid!);
  broker.kill('SIGTERM');
  await new Promise((r) => broker.once('exit', r));
  if (reports.length !== rounds) faults.push(`${reports.length} of ${rounds} rounds closed`);

  // The same churn in process, for the live heap after a full GC per round.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const inProcess = await startBroker(
    { ...config, credentialsFile: path.join(dir, 'credentials.yaml'), logLevel: 'silent', aggregator: { ...config.aggregator, dataDir: path.join(dir, 'aggregator-data-2'), logLevel: 'silent' } },
    { logger: pino({ level: 'silent' }) },
  );
  const agg = await startInProcessAggregator(inProcess);
  const acceptedInProcess = new Map<number, string[]>();
  agg.events.on('accepted', ({ round, update }) => acceptedInProcess.set(round, [...(acceptedInProcess.get(round) ?? []), update.clientId]));
  const heapMiB: number[] = [];
  const reports2 = await runChurn({
    url: `mqtt://127.0.0.1:${inProcess.tcpPort}`,
    gateways,
    rounds,
    leavers,
    midPublish,
    seed: 7,
    observer: { username: 'operator', password },
    envelope: envelopeOf,
    acceptedIn: async (round) => acceptedInProcess.get(round) ?? [],
    onRoundClosed: (r) => {
      faults.push(...churnFaults(r, n - leavers));
      acceptedInProcess.delete(r.round);
      gc();
      gc();
      heapMiB.push(Math.round((process.memoryUsage().heapUsed / 2 ** 20) * 10) / 10);
      process.stdout.write(`in process, round ${r.round}: live heap after GC ${heapMiB[heapMiB.length - 1]} MiB\n`);
    },
  });
  await agg.stop();
  await inProcess.close();
  if (reports2.length !== rounds) faults.push(`in process: ${reports2.length} of ${rounds} rounds closed`);
  clearTimeout(deadline);
  fs.rmSync(dir, { recursive: true, force: true });
  const loadAfter = os.loadavg();
  if (faults.length > 0) throw new Error(`churn-load: ${faults.length} fault(s):\n${faults.join('\n')}`);

  const ackedTotal = reports.reduce((s, r) => s + r.acked.length, 0);
  const countedTotal = reports.reduce((s, r) => s + r.metrics.accepted, 0);
  const closes = reports.map((r) => r.closeS);
  const rssRounds = perRound.map((p) => p.rssMiB);
  const measurements: Measurement[] = [
    { name: `rounds closed of ${rounds} (${n} gateways, 10% disconnecting each round)`, median: reports.length, unit: 'rounds', runs: [reports.length] },
    {
      name: `acknowledged updates counted exactly once (${rounds} rounds × ${n - leavers})`,
      median: countedTotal,
      unit: 'updates',
      runs: [countedTotal],
      extra: { acknowledged: ackedTotal, lost: 0, countedTwice: 0, refusedResends: reports.map((r) => r.metrics.rejected) },
    },
    { name: `time to close a round of ${n - leavers} updates under churn (first publish → metrics/rounds)`, median: median(closes), unit: 's', runs: closes },
    { name: `broker RSS after each round (${n} gateways)`, median: median(rssRounds), unit: 'MiB', runs: rssRounds, extra: { idleRssMiB: mb(idle.rssKiB), growthFirstToLastMiB: Math.round((rssRounds[rssRounds.length - 1] - rssRounds[0]) * 10) / 10, perRound } },
    { name: `broker peak RSS over ${rounds} churned rounds`, median: mb(Math.max(final.peakKiB, idle.peakKiB)), unit: 'MiB', runs: [mb(final.peakKiB)] },
    {
      name: `live heap after a full GC each round (broker + aggregator + the ${n} clients in one process)`,
      median: median(heapMiB),
      unit: 'MiB',
      runs: heapMiB,
      extra: { growthPerRoundMiB: heapMiB.length > 1 ? Math.round(((heapMiB[heapMiB.length - 1] - heapMiB[0]) / (heapMiB.length - 1)) * 100) / 100 : 0 },
    },
  ];
  const la = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' / ');
  const file = writeResults(
    'churn-load',
    measurements,
    `One run: ${n} MQTT connections from this process to a fedwear broker child with the in-process aggregator (FedAvg, int8-dense), on loopback; ${rounds} rounds, quorum ${n - leavers}; each round ${leavers} gateways offline (redrawn) and ${midPublish} cut mid-publish (reconnect, re-send). ${totalS.toFixed(1)} s for the broker-child run; the live-heap run repeats the churn in process. Load average (1/5/15 min) ${la(loadBefore)} before, ${la(loadAfter)} after, on a 2-core machine shared with other work.`,
  );
  for (const m of measurements) process.stdout.write(`${m.name}: ${m.median} ${m.unit}\n`);
  process.stdout.write(`wrote ${file}\n`);
}

await main();
