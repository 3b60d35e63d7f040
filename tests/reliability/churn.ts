/**
 * The churn driver shared by tests/reliability/churn.test.ts (100 gateways, in-process) and
 * bench/churn-load.ts (1,000 gateways, broker child process): N gateways on one broker run several
 * sync rounds while 10% of them disconnect each round.
 *
 * Each round a fixed number of gateways is offline (`leavers`, drawn afresh every round, so some come
 * back the next round and some stay away longer), and `midPublish` of the online ones lose their
 * connection while publishing: half after the whole PUBLISH left the socket, half in the middle of
 * the packet. Those reconnect and send the same envelope again, as an MQTT client re-sends an
 * unacknowledged QoS 1 message. So every online gateway's update ends with a PUBACK, the number of
 * updates per round is exactly N − leavers, and the aggregator's quorum is set to that: a round closes
 * only if every acknowledged update was counted, and the check afterwards is that each one was counted
 * exactly once (the aggregator's own record of accepted client ids against the acknowledged ones).
 */
import type { KeyObject } from 'node:crypto';
import type net from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { topics } from '../../broker/index.ts';
import { parseRoundMetrics, type RoundMetrics } from '../../federation/index.ts';
import { seededRng } from '../../models/index.ts';

export interface ChurnGateway {
  username: string;
  password: string;
  privateKey: KeyObject;
}

export interface ChurnOptions {
  url: string;
  gateways: readonly ChurnGateway[];
  rounds: number;
  /** Gateways offline during each round (the aggregator's quorum must be N − leavers). */
  leavers: number;
  /** Online gateways cut while publishing each round; they reconnect and re-send. */
  midPublish: number;
  seed: number;
  /** An identity that may read metrics/rounds (operator). */
  observer: { username: string; password: string };
  /** The signed envelope of gateway `g` for a round. */
  envelope(g: ChurnGateway, round: number, modelVersion: string): Uint8Array;
  /** The client ids the aggregator accepted in `round` (its journal / events / log), once it closed with `expected` of them. */
  acceptedIn(round: number, expected: number): Promise<readonly string[]>;
  onRoundClosed?(report: ChurnRound): void | Promise<void>;
  /** Fails the run when a round has not closed this long after its last PUBACK (default 60 s). */
  closeTimeoutMs?: number;
  /** Connections opened at once (default 50). */
  connectBatch?: number;
}

export interface ChurnRound {
  round: number;
  online: number;
  /** Gateways that went offline at the start of this round / came back from an earlier one. */
  left: number;
  returned: number;
  cutAfterSend: number;
  cutMidPacket: number;
  /** Gateways whose update got a PUBACK (sorted). */
  acked: string[];
  /** What the aggregator counted (sorted). */
  accepted: string[];
  metrics: RoundMetrics;
  /** First publish to the last PUBACK, and to the round's metrics/rounds message, in seconds. */
  ackedS: number;
  closeS: number;
}

function sample<T>(xs: readonly T[], k: number, random: () => number): T[] {
  const a = [...xs];
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (a.length - i));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, k);
}

/** A QoS 1 PUBLISH packet (MQTT 3.1.1 §3.3), written by hand so it can be cut anywhere. */
export function publishPacket(topic: string, payload: Uint8Array, packetId: number): Buffer {
  const t = Buffer.from(topic, 'utf8');
  const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
  const body = Buffer.concat([u16(t.length), t, u16(packetId), payload]);
  const header = [0x32];
  let x = body.length;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    header.push(b);
  } while (x > 0);
  return Buffer.concat([Buffer.from(header), body]);
}

function closed(c: MqttClient): Promise<void> {
  return new Promise((resolve) => (c.disconnected ? resolve() : c.once('close', () => resolve())));
}

/** What must hold after a round: every acknowledged update counted exactly once, nothing else counted. */
export function churnFaults(r: ChurnRound, expected: number): string[] {
  const faults: string[] = [];
  const counts = new Map<string, number>();
  for (const id of r.accepted) counts.set(id, (counts.get(id) ?? 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  if (twice.length > 0) faults.push(`round ${r.round}: counted more than once: ${twice.join(', ')}`);
  const lost = r.acked.filter((id) => !counts.has(id));
  if (lost.length > 0) faults.push(`round ${r.round}: acknowledged but not counted: ${lost.join(', ')}`);
  const acked = new Set(r.acked);
  const extra = [...counts.keys()].filter((id) => !acked.has(id));
  if (extra.length > 0) faults.push(`round ${r.round}: counted without an acknowledged update: ${extra.join(', ')}`);
  if (r.acked.length !== expected) faults.push(`round ${r.round}: ${r.acked.length} updates acknowledged, expected ${expected}`);
  if (r.metrics.accepted !== r.accepted.length) faults.push(`round ${r.round}: metrics/rounds says ${r.metrics.accepted} accepted, the aggregator's record ${r.accepted.length}`);
  // Only re-sent copies may be refused: a duplicate in the round, or a late copy after it closed.
  const odd = Object.keys(r.metrics.rejected).filter((k) => k !== 'duplicate' && k !== 'model-version');
  if (odd.length > 0) faults.push(`round ${r.round}: unexpected rejections ${JSON.stringify(r.metrics.rejected)}`);
  return faults;
}

export async function runChurn(opts: ChurnOptions): Promise<ChurnRound[]> {
  const { url, gateways, rounds, leavers, midPublish } = opts;
  if (leavers + midPublish > gateways.length) throw new RangeError(`churn: ${leavers} leavers + ${midPublish} mid-publish exceed ${gateways.length} gateways`);
  const random = seededRng(opts.seed);
  const batch = opts.connectBatch ?? 50;
  const conns = new Map<string, MqttClient>();
  const connect = async (g: ChurnGateway): Promise<void> => {
    conns.set(g.username, await mqtt.connectAsync(url, { clientId: g.username, username: g.username, password: g.password, reconnectPeriod: 0, keepalive: 600 }));
  };
  const connectAll = async (gs: readonly ChurnGateway[]): Promise<void> => {
    for (let i = 0; i < gs.length; i += batch) await Promise.all(gs.slice(i, i + batch).map(connect));
  };

  const observer = await mqtt.connectAsync(url, { clientId: opts.observer.username, username: opts.observer.username, password: opts.observer.password, reconnectPeriod: 0 });
  const closedRounds = new Map<number, { at: number; metrics: RoundMetrics }>();
  const waiters = new Map<number, () => void>();
  observer.on('message', (t, p) => {
    if (t !== topics.metricsRounds()) return;
    const metrics = parseRoundMetrics(p);
    if (closedRounds.has(metrics.roundId)) return;
    closedRounds.set(metrics.roundId, { at: performance.now(), metrics });
    waiters.get(metrics.roundId)?.();
  });
  await observer.subscribeAsync(topics.metricsRounds(), { qos: 1 });
  const roundClosed = (round: number, timeoutMs: number): Promise<{ at: number; metrics: RoundMetrics }> =>
    new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(closedRounds.get(round)!);
      };
      const timer = setTimeout(() => reject(new Error(`churn: round ${round} did not close within ${timeoutMs} ms of its last PUBACK (quorum not reached: an acknowledged update was not counted?)`)), timeoutMs);
      if (closedRounds.has(round)) done();
      else waiters.set(round, done);
    });

  const reports: ChurnRound[] = [];
  try {
    await connectAll(gateways);
    let modelVersion = 'base-1';
    let offline = new Set<string>();
    for (let round = 1; round <= rounds; round++) {
      // Who is away this round: drawn afresh, so some come back and some stay away.
      const away = new Set(sample(gateways, leavers, random).map((g) => g.username));
      const returning = gateways.filter((g) => offline.has(g.username) && !away.has(g.username));
      const leaving = gateways.filter((g) => away.has(g.username) && !offline.has(g.username));
      // Half leave with a DISCONNECT, half by dropping the socket.
      await Promise.all(
        leaving.map((g, i) => {
          const c = conns.get(g.username)!;
          const gone = closed(c);
          if (i % 2 === 0) c.end();
          else (c.stream as unknown as net.Socket).destroy();
          return gone;
        }),
      );
      for (const g of leaving) conns.delete(g.username);
      await connectAll(returning);
      offline = away;

      const online = gateways.filter((g) => !away.has(g.username));
      const cut = new Map(sample(online, midPublish, random).map((g, i) => [g.username, i % 2 === 0 ? ('after-send' as const) : ('mid-packet' as const)]));
      const envelopes = new Map(online.map((g) => [g.username, opts.envelope(g, round, modelVersion)]));
      const acked: string[] = [];

      const cutAndResend = async (g: ChurnGateway, how: 'after-send' | 'mid-packet'): Promise<void> => {
        const c = conns.get(g.username)!;
        const packet = publishPacket(topics.updates(g.username), envelopes.get(g.username)!, 1);
        const gone = closed(c);
        // end() sends what was written, then FIN: the broker reads the bytes, and no PUBACK is read back.
        (c.stream as unknown as net.Socket).end(how === 'after-send' ? packet : packet.subarray(0, packet.length >> 1));
        await gone;
        await connect(g);
        await conns.get(g.username)!.publishAsync(topics.updates(g.username), Buffer.from(envelopes.get(g.username)!), { qos: 1 });
        acked.push(g.username);
      };

      const t0 = performance.now();
      await Promise.all(
        online.map(async (g) => {
          const how = cut.get(g.username);
          if (how) return cutAndResend(g, how);
          await conns.get(g.username)!.publishAsync(topics.updates(g.username), Buffer.from(envelopes.get(g.username)!), { qos: 1 });
          acked.push(g.username);
        }),
      );
      const tAcked = performance.now();
      const { at, metrics } = await roundClosed(round, opts.closeTimeoutMs ?? 60_000);
      const accepted = [...(await opts.acceptedIn(round, metrics.accepted))].sort();
      const report: ChurnRound = {
        round,
        online: online.length,
        left: leaving.length,
        returned: returning.length,
        cutAfterSend: [...cut.values()].filter((h) => h === 'after-send').length,
        cutMidPacket: [...cut.values()].filter((h) => h === 'mid-packet').length,
        acked: acked.sort(),
        accepted,
        metrics,
        ackedS: (tAcked - t0) / 1000,
        closeS: (at - t0) / 1000,
      };
      reports.push(report);
      await opts.onRoundClosed?.(report);
      modelVersion = metrics.newModelVersion;
    }
  } finally {
    await Promise.all([...conns.values(), observer].map((c) => c.endAsync(true)));
  }
  return reports;
}
