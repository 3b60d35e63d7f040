/**
 * Attacks on a running federation: one real broker (aedes, loopback port 0) with the in-process
 * aggregator (coordinate median), eight honest gateways publishing signed updates, and attackers in
 * the same rounds. Every attack must be refused with its reason, counted exactly once in the broker's
 * or the aggregator's Prometheus counters, and leave the honest gateways' updates accepted and the
 * rounds closed with exactly the expected participants. The table printed at the end is the one in
 * tests/reliability/README.md.
 *
 * Flooders use other loopback addresses (127.0.0.2, 127.0.0.3) than the gateways (127.0.0.1), as a
 * flood from another host would; the token bucket's clock is frozen so the counts are exact.
 */
import fs from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MqttClient } from 'mqtt';
import { metricTotal, startBroker, startInProcessAggregator, topics, type AggregatorHandle, type BrokerHandle } from '../../broker/index.ts';
import { coordinateMedian, fedAvg, type RoundMetrics } from '../../federation/index.ts';
import { connectAs, connectRaw, silentLogger, tcpUrl, tempDir, waitClose } from '../broker/harness.ts';
import { aggregatorConfig, BODY_SIZE, deltaFor, makeGateways, passwordOf, seal, writeCredentials, type Gateway } from '../aggregator/helpers.ts';

const HONEST = 8;
const QUORUM = 8;
/** Honest deltas are small enough that ×100 stays under the norm bound: the strategy, not validation, must cope. */
const SCALE = 0.002;
const NORM_BOUND = 5;
const BURST = 100;
const MAX_CONNECTIONS = 150;

const unique = (gs: Gateway[], prefix: string): Gateway[] => gs.map((g, i) => ({ ...g, userId: `${prefix}-user-${i}` }));
const honest = unique(makeGateways(HONEST, 'gw'), 'gw');
const [mallory] = unique(makeGateways(1, 'mallory'), 'mallory');
const poisoners = unique(makeGateways(3, 'poison'), 'poison');

interface Row {
  attack: string;
  tried: number;
  refused: number;
  reason: string;
}

function scaled(d: Float32Array, k: number): Float32Array {
  return d.map((v) => v * k);
}

/** Opens a raw TCP connection, writes `bytes`, resolves when the broker closes it. */
function rawSend(port: number, bytes: Uint8Array, localAddress = '127.0.0.1'): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress }, () => s.write(bytes));
    s.on('error', () => {}); // a reset is one way of being closed
    s.once('close', () => resolve());
    s.setTimeout(20_000, () => reject(new Error('the broker kept a connection open after bad bytes')));
  });
}

/** An MQTT fixed header announcing `body` bytes (MQTT 3.1.1 §2.2.3). */
function fixedHeader(type: number, body: number): Buffer {
  const out = [type];
  let x = body;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    out.push(b);
  } while (x > 0);
  return Buffer.from(out);
}

describe('attacks against a running federation', { timeout: 60_000 }, () => {
  let broker: BrokerHandle;
  let agg: AggregatorHandle;
  let url: string;
  let port: number;
  let base: Float32Array;
  const rows: Row[] = [];
  const gateways: MqttClient[] = [];
  const others: MqttClient[] = [];
  let honestCloses = 0;
  const acceptedBy = new Map<number, string[]>();
  const closed: RoundMetrics[] = [];
  const roundDeltas = new Map<number, Float32Array[]>();
  const envelopes = new Map<string, Uint8Array>();

  // Counters are read as differences, so each attack's increment is exact whatever ran before.
  const m = {
    auth: (reason: string) => metricTotal(broker.metrics.authRefused, { reason }),
    publishDenied: () => metricTotal(broker.metrics.publishDenied, { role: 'gateway' }),
    oversize: () => metricTotal(broker.metrics.oversizePackets, { transport: 'tcp' }),
    malformed: () => metricTotal(broker.metrics.malformedPackets, { transport: 'tcp' }),
    refused: (reason: string) => metricTotal(broker.metrics.connectionsRefused, { reason }),
    admitted: () => metricTotal(broker.metrics.connectionsAccepted),
    open: () => metricTotal(broker.metrics.connectionsOpen),
    rejected: (reason: string) => metricTotal(agg.metrics.rejected, { reason }),
    accepted: () => metricTotal(agg.metrics.accepted),
  };
  const delta = async <T,>(read: () => Promise<number>, act: () => Promise<T>): Promise<{ by: number; result: T }> => {
    const before = await read();
    const result = await act();
    return { by: (await read()) - before, result };
  };
  const other = async (username: string, opts: Parameters<typeof connectAs>[2] = {}): Promise<MqttClient> => {
    const c = await connectAs(url, username, opts);
    others.push(c);
    return c;
  };
  const roundClosed = (): Promise<RoundMetrics> => new Promise((resolve) => agg.events.once('round-closed', (o) => resolve(o.metrics)));
  /** A gateway's envelope for the open round (sealed once, so a replay can reuse the bytes). */
  const honestEnvelope = (g: Gateway, round: number, modelVersion: string, i: number): Uint8Array => {
    const d = deltaFor(1000 * round + i, SCALE);
    const env = seal(g, d, { round, modelVersion });
    envelopes.set(`${g.username}@${round}`, env);
    return env;
  };
  const publishHonest = async (i: number, round: number, modelVersion: string): Promise<void> => {
    const env = honestEnvelope(honest[i], round, modelVersion, i);
    await gateways[i].publishAsync(topics.updates(honest[i].username), Buffer.from(env), { qos: 1 });
  };
  /** A refused publish drops the connection: no PUBACK ever comes, so wait for the close. */
  const publishDropped = async (c: MqttClient, topic: string, payload: Uint8Array): Promise<void> => {
    const closedP = waitClose(c);
    c.publish(topic, Buffer.from(payload), { qos: 1 }, () => {});
    await closedP;
  };

  let dir: string;

  beforeAll(async () => {
    dir = tempDir('attacks');
    const credentialsFile = await writeCredentials(dir, [...honest, mallory, ...poisoners]);
    const frozen = Date.now();
    broker = await startBroker(
      {
        credentialsFile,
        tcp: { host: '127.0.0.1', port: 0 },
        persistence: { type: 'memory' },
        limits: { maxConnections: MAX_CONNECTIONS, connectionsPerIpPerSecond: 1, connectionBurstPerIp: BURST, connectTimeoutMs: 30_000 },
        aggregator: aggregatorConfig(dir, {
          round: { durationMs: 600_000, quorum: QUORUM },
          strategy: { name: 'coordinate-median' },
          update: { normBound: NORM_BOUND, maxBytes: 64 * 1024, encodings: ['float32'] },
          audit: { enabled: false, refuseFaultyUsers: false },
        }),
      },
      // The per-IP buckets never refill: every refusal below is exact, not a race with the clock.
      { logger: silentLogger, now: () => frozen },
    );
    agg = await startInProcessAggregator(broker);
    base = Float32Array.from(agg.model.params);
    url = tcpUrl(broker);
    port = broker.tcpPort!;
    agg.events.on('accepted', ({ round, update }) => acceptedBy.set(round, [...(acceptedBy.get(round) ?? []), update.clientId]));
    agg.events.on('accepted', ({ round, update }) => roundDeltas.set(round, [...(roundDeltas.get(round) ?? []), update.delta]));
    for (const g of honest) {
      const c = await connectAs(url, g.username);
      c.on('close', () => honestCloses++);
      gateways.push(c);
    }
  });

  afterAll(async () => {
    await Promise.all([...gateways, ...others].map((c) => c.endAsync(true)));
    await agg?.stop();
    await broker?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (rows.length > 0) {
      const w = [42, 5, 7, 70];
      const line = (c: string[]): string => `| ${c.map((x, i) => x.padEnd(w[i])).join(' | ')} |`;
      console.log(['', line(['attack', 'tried', 'refused', 'reason / counter']), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rows.map((r) => line([r.attack, String(r.tried), String(r.refused), r.reason]))].join('\n'));
    }
  });

  it('round 1: impersonation, foreign topics, forged and replayed envelopes, bad bytes and floods are refused; the 8 honest updates close the round', async () => {
    const r1Closed = roundClosed();
    // Five honest updates first: the attacks land in an open round with updates already counted.
    for (let i = 0; i < 5; i++) await publishHonest(i, 1, 'base-1');

    // (a) Impersonation at CONNECT: a stolen username with a wrong password (as that gateway's own
    // client id, which would take over its session), and valid credentials claiming another client id.
    const wrongPassword = await delta(
      () => m.auth('bad_credentials'),
      () =>
        Promise.all([
          connectRaw(url, { username: honest[0].username, password: 'guessed', clientId: honest[0].username }).then(() => 0, (e: { code?: number }) => e.code),
          connectRaw(url, { username: honest[1].username, password: passwordOf(mallory.username), clientId: `${honest[1].username}:evil` }).then(() => 0, (e: { code?: number }) => e.code),
          connectRaw(url, { username: honest[2].username, password: '', clientId: honest[2].username }).then(() => 0, (e: { code?: number }) => e.code),
        ]),
    );
    expect(wrongPassword.result).toEqual([4, 4, 4]);
    expect(wrongPassword.by).toBe(3);
    rows.push({ attack: '(a) stolen username, wrong password', tried: 3, refused: 3, reason: 'CONNACK 4; auth_refused_total{bad_credentials} +3' });
    const spoofedId = await delta(
      () => m.auth('client_id'),
      () => connectRaw(url, { username: mallory.username, password: passwordOf(mallory.username), clientId: honest[3].username }).then(() => 0, (e: { code?: number }) => e.code),
    );
    expect(spoofedId.result).toBe(2);
    expect(spoofedId.by).toBe(1);
    rows.push({ attack: "(a) own password, another's client id", tried: 1, refused: 1, reason: 'CONNACK 2; auth_refused_total{client_id} +1' });

    // (b) Valid credentials, another gateway's topic: the ACL refuses and the connection is dropped.
    const foreignTopic = await delta(m.publishDenied, async () => {
      await publishDropped(await other(mallory.username), topics.updates(honest[5].username), seal(mallory, deltaFor(7, SCALE), { round: 1, modelVersion: 'base-1' }));
      // The stolen envelope of gw-0 (already accepted) pushed onto gw-6's topic.
      await publishDropped(await other(mallory.username), topics.updates(honest[6].username), envelopes.get(`${honest[0].username}@1`)!);
    });
    expect(foreignTopic.by).toBe(2);
    rows.push({ attack: "(b) publish on another gateway's topic", tried: 2, refused: 2, reason: 'connection dropped; publish_denied_total{gateway} +2' });

    // (c) On its own topic, with its own valid credentials: an envelope signed with another key, and
    // another gateway's genuine envelope re-published (gw-5's, before gw-5 sends it: its slot must survive).
    const mal = await other(mallory.username);
    const mine = topics.updates(mallory.username);
    const forged = await delta(
      () => m.rejected('bad-signature'),
      () => mal.publishAsync(mine, Buffer.from(seal({ ...mallory, privateKey: honest[1].privateKey }, deltaFor(8, SCALE), { round: 1, modelVersion: 'base-1' })), { qos: 1 }),
    );
    expect(forged.by).toBe(1);
    rows.push({ attack: '(c) envelope signed with the wrong key', tried: 1, refused: 1, reason: 'bad-signature; updates_rejected_total +1' });
    const stolen = honestEnvelope(honest[5], 1, 'base-1', 5);
    const resent = await delta(
      () => m.rejected('client-mismatch'),
      async () => {
        await mal.publishAsync(mine, Buffer.from(stolen), { qos: 1 });
        // The same claim the other way round: an envelope naming gw-6, signed with mallory's key.
        await mal.publishAsync(mine, Buffer.from(seal(mallory, deltaFor(9, SCALE), { round: 1, modelVersion: 'base-1', clientId: honest[6].username })), { qos: 1 });
      },
    );
    expect(resent.by).toBe(2);
    rows.push({ attack: "(c) another gateway's envelope re-sent", tried: 2, refused: 2, reason: 'client-mismatch; updates_rejected_total +2' });
    const junk = await delta(
      async () => (await m.rejected('malformed')) + (await m.rejected('oversize')),
      async () => {
        await mal.publishAsync(mine, Buffer.alloc(512, 0x5a), { qos: 1 });
        await mal.publishAsync(mine, Buffer.alloc(100 * 1024, 0x01), { qos: 1 });
      },
    );
    expect(junk.by).toBe(2);
    rows.push({ attack: '(c) junk / 100 KiB envelope', tried: 2, refused: 2, reason: 'malformed, oversize (64 KiB); updates_rejected_total +2' });

    // (d) Replay inside the round, from a second session holding gw-0's password (stolen) and gw-0's
    // accepted envelope; and a different second update signed by gw-0 for the same round.
    const replayer = await other(honest[0].username, { clientId: `${honest[0].username}:replayer` });
    const replays = await delta(
      async () => (await m.rejected('duplicate')) + (await m.rejected('replay')),
      async () => {
        await replayer.publishAsync(topics.updates(honest[0].username), Buffer.from(envelopes.get(`${honest[0].username}@1`)!), { qos: 1 });
        await replayer.publishAsync(topics.updates(honest[0].username), Buffer.from(seal(honest[0], deltaFor(77, SCALE), { round: 1, modelVersion: 'base-1' })), { qos: 1 });
      },
    );
    expect(replays.by).toBe(2);
    expect(agg.rejectedCounts).toMatchObject({ duplicate: 1, replay: 1 });
    rows.push({ attack: '(d) replay within the round', tried: 2, refused: 2, reason: 'duplicate (same bytes), replay (new bytes); +2' });

    // (f) Oversize packets: a bare 1 MiB PUBLISH header on a raw socket, and an authenticated 300 KiB
    // PUBLISH. The guard cuts each at the header; the body is never read.
    const oversize = await delta(m.oversize, async () => {
      await rawSend(port, fixedHeader(0x30, 1024 * 1024));
      await publishDropped(await other(mallory.username), mine, Buffer.alloc(300 * 1024, 0x02));
    });
    expect(oversize.by).toBe(2);
    rows.push({ attack: '(f) oversize MQTT packet (> 256 KiB)', tried: 2, refused: 2, reason: 'socket destroyed at the header; oversize_packets_total +2' });
    // Malformed MQTT: a CONNECT whose protocol name runs past the packet, a reserved packet type,
    // a remaining length of five bytes, bad PUBLISH flag bits (QoS 3).
    const malformed = await delta(m.malformed, () =>
      Promise.all([
        rawSend(port, Buffer.from([0x10, 0x04, 0xde, 0xad, 0xbe, 0xef])),
        rawSend(port, Buffer.from([0x00, 0x00])),
        rawSend(port, Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])),
        rawSend(port, Buffer.from([0x36, 0x03, 0x00, 0x01, 0x61])),
      ]),
    );
    expect(malformed.by).toBe(4);
    rows.push({ attack: '(f) malformed MQTT bytes (raw TCP)', tried: 4, refused: 4, reason: 'connection closed; malformed_packets_total +4' });

    // (g) Connection floods from other addresses. 127.0.0.2 opens 130 sockets: its bucket holds 100.
    const flood: net.Socket[] = [];
    const open = (localAddress: string): void => {
      const s = net.connect({ host: '127.0.0.1', port, localAddress });
      s.on('error', () => {});
      flood.push(s);
    };
    const seen = async (): Promise<number> => (await m.admitted()) + (await m.refused('rate_limited')) + (await m.refused('max_connections'));
    const before = { seen: await seen(), rate: await m.refused('rate_limited'), max: await m.refused('max_connections') };
    for (let i = 0; i < BURST + 30; i++) open('127.0.0.2');
    await vi.waitFor(async () => expect(await seen()).toBe(before.seen + BURST + 30), { timeout: 20_000, interval: 20 });
    expect((await m.refused('rate_limited')) - before.rate).toBe(30);
    rows.push({ attack: '(g) 130 connections from one IP', tried: 130, refused: 30, reason: `burst ${BURST} admitted; connections_refused_total{rate_limited} +30` });
    // 127.0.0.3 fills what is left under the cap, then 10 more.
    const room = MAX_CONNECTIONS - (await m.open());
    expect(room).toBeGreaterThan(0);
    for (let i = 0; i < room + 10; i++) open('127.0.0.3');
    await vi.waitFor(async () => expect(await seen()).toBe(before.seen + BURST + 30 + room + 10), { timeout: 20_000, interval: 20 });
    expect((await m.refused('max_connections')) - before.max).toBe(10);
    expect(await m.open()).toBe(MAX_CONNECTIONS);
    rows.push({ attack: `(g) connections beyond the cap (${MAX_CONNECTIONS})`, tried: room + 10, refused: 10, reason: 'connections_refused_total{max_connections} +10' });
    for (const s of flood) s.destroy();
    const openBefore = MAX_CONNECTIONS - BURST - room;
    await vi.waitFor(async () => expect(await m.open()).toBe(openBefore), { timeout: 20_000, interval: 20 });

    // Through all of it the honest gateways kept their sessions; the last three updates close the round.
    expect(honestCloses).toBe(0);
    await gateways[5].publishAsync(topics.updates(honest[5].username), Buffer.from(stolen), { qos: 1 });
    for (const i of [6, 7]) await publishHonest(i, 1, 'base-1');
    const metrics = await r1Closed;
    expect(metrics).toMatchObject({ roundId: 1, closedBy: 'quorum', accepted: HONEST });
    expect(metrics.rejected).toEqual({ 'bad-signature': 1, 'client-mismatch': 2, malformed: 1, oversize: 1, duplicate: 1, replay: 1 });
    expect(acceptedBy.get(1)!.sort()).toEqual(honest.map((g) => g.username).sort());
    // The model is exactly the median of the eight honest deltas: nothing an attacker sent reached it.
    const median = coordinateMedian({ round: { durationMs: 1, quorum: 1, dp: { minNoiseMultiplier: 1, maxGradNorm: 1, delta: 1e-5 } } });
    const honestDeltas = honest.map((_, i) => deltaFor(1000 + i, SCALE));
    const want = median.aggregate(base.slice(0, BODY_SIZE), honestDeltas.map((d, i) => ({ delta: d, weight: 1, clientId: `c${i}` })), {}).params;
    await agg.idle();
    expect(Array.from(agg.model.params.subarray(0, BODY_SIZE))).toEqual(Array.from(want));
    closed.push(metrics);
  });

  it('round 2: replays from round 1, updates for other rounds and model versions are refused; ×100 poisoners under the median leave the model in the honest range', async () => {
    expect(agg.round).toMatchObject({ id: 2, modelVersion: 'global-1' });
    const r2Closed = roundClosed();
    const prevBody = Float32Array.from(agg.model.params.subarray(0, BODY_SIZE));
    const acceptedBefore = await m.accepted();
    // (d) gw-0's round-1 envelope again (stolen password session): it names round 1's model.
    const replayer = await other(honest[0].username, { clientId: `${honest[0].username}:replayer2` });
    const across = await delta(
      () => m.rejected('model-version'),
      () => replayer.publishAsync(topics.updates(honest[0].username), Buffer.from(envelopes.get(`${honest[0].username}@1`)!), { qos: 1 }),
    );
    expect(across.by).toBe(1);
    rows.push({ attack: '(d) replay of a round-1 update in round 2', tried: 1, refused: 1, reason: 'model-version (checked before the round); +1' });

    // (e) Signed by gw-1's own key, but for round 3, for round 1 on the current model, and for round 2
    // on the old model. None may burn gw-1's slot for round 2.
    const c1 = await other(honest[1].username, { clientId: `${honest[1].username}:confused` });
    const wrongRound = async (round: number, modelVersion: string, reason: string): Promise<number> =>
      (await delta(() => m.rejected(reason), () => c1.publishAsync(topics.updates(honest[1].username), Buffer.from(seal(honest[1], deltaFor(55 + round, SCALE), { round, modelVersion })), { qos: 1 }))).by;
    expect(await wrongRound(3, 'global-1', 'future-round')).toBe(1);
    expect(await wrongRound(1, 'global-1', 'stale-round')).toBe(1);
    expect(await wrongRound(2, 'base-1', 'model-version')).toBe(1);
    rows.push({ attack: '(e) update for round 3 (future)', tried: 1, refused: 1, reason: 'future-round; +1' });
    rows.push({ attack: '(e) update for round 1 (past)', tried: 1, refused: 1, reason: 'stale-round; +1' });
    rows.push({ attack: '(e) round 2 on the previous model', tried: 1, refused: 1, reason: 'model-version; +1' });

    // (h) Three gateways with valid keys poison: two send ×100 updates (norm ≈ 3.5, inside the bound
    // of 5), one ×1,000 (outside it). Six honest gateways complete the quorum of 8.
    const pcs = await Promise.all(poisoners.map((p) => other(p.username)));
    const poison = [0, 1].map((i) => scaled(deltaFor(5000 + i, SCALE), 100));
    for (const i of [0, 1]) await pcs[i].publishAsync(topics.updates(poisoners[i].username), Buffer.from(seal(poisoners[i], poison[i], { round: 2, modelVersion: 'global-1' })), { qos: 1 });
    const boosted = await delta(
      () => m.rejected('norm-exceeded'),
      () => pcs[2].publishAsync(topics.updates(poisoners[2].username), Buffer.from(seal(poisoners[2], scaled(deltaFor(5002, SCALE), 1000), { round: 2, modelVersion: 'global-1' })), { qos: 1 }),
    );
    expect(boosted.by).toBe(1);
    for (let i = 0; i < 6; i++) await publishHonest(i, 2, 'global-1');
    const metrics = await r2Closed;
    await agg.idle();
    expect(metrics).toMatchObject({ roundId: 2, closedBy: 'quorum', accepted: 8 });
    expect(metrics.rejected).toEqual({ 'model-version': 2, 'future-round': 1, 'stale-round': 1, 'norm-exceeded': 1 });
    expect(acceptedBy.get(2)!.sort()).toEqual([...honest.slice(0, 6).map((g) => g.username), poisoners[0].username, poisoners[1].username].sort());
    expect((await m.accepted()) - acceptedBefore).toBe(8);

    // The step taken lies, coordinate by coordinate, inside the honest updates' range (the median with
    // 2 of 8 arbitrary inputs cannot leave it); FedAvg of the same eight would be dragged far out.
    const honestDeltas = honest.slice(0, 6).map((_, i) => deltaFor(2000 + i, SCALE));
    const step = agg.model.params.subarray(0, BODY_SIZE).map((v, j) => v - prevBody[j]);
    let outside = 0;
    for (let j = 0; j < BODY_SIZE; j++) {
      const vs = honestDeltas.map((d) => d[j]);
      if (step[j] < Math.min(...vs) - 1e-6 || step[j] > Math.max(...vs) + 1e-6) outside++;
    }
    expect(outside).toBe(0);
    const mean = fedAvg({ round: { durationMs: 1, quorum: 1, dp: { minNoiseMultiplier: 1, maxGradNorm: 1, delta: 1e-5 } } });
    const agg8 = (ds: Float32Array[]): Float32Array => mean.aggregate(new Float32Array(BODY_SIZE), ds.map((d, i) => ({ delta: d, weight: 1, clientId: `c${i}` })), {}).params;
    const honestMean = agg8(honestDeltas);
    const dist = (a: Float32Array, b: Float32Array): number => Math.sqrt(a.reduce((s, v, j) => s + (v - b[j]) ** 2, 0));
    const robustErr = dist(step, honestMean);
    const fedavgErr = dist(agg8([...honestDeltas, ...poison]), honestMean);
    expect(robustErr * 20).toBeLessThan(fedavgErr);
    rows.push({ attack: '(h) ×100 poisoners (valid keys), median', tried: 2, refused: 0, reason: `accepted; step off honest mean ${robustErr.toFixed(3)} (FedAvg ${fedavgErr.toFixed(3)})` });
    rows.push({ attack: '(h) ×1,000 poisoner (over norm bound)', tried: 1, refused: 1, reason: 'norm-exceeded; +1' });

    expect(honestCloses).toBe(0);
    expect(gateways.every((c) => c.connected)).toBe(true);
    closed.push(metrics);
  });
});
