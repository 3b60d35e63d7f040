/**
 * Redis-backed brokers against a real redis-server started here: aedes-persistence-redis alone
 * survives a broker restart; two `fedwear broker` processes with the Redis emitter share publishes,
 * retained messages and the broker's status records; config errors name their field.
 */
import fs from 'node:fs';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerConfig, parseStatusRecord, topics, type BrokerHandle } from '../../broker/index.ts';
import { connectAs, endAll, nextMessage, startTestBroker, subscribeCodes, tcpUrl, tempDir, waitClose, writeCredentials } from './harness.ts';
import { spawnRedisBroker, startRedis, type BrokerProcess, type RedisServer } from './redis-harness.ts';

let redis: RedisServer;
const dirs: string[] = [];
const dir = (prefix: string): string => {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('redis persistence across a broker restart', () => {
  it('keeps retained messages and the queued QoS 1 messages of an offline session', async () => {
    const d = dir('redis-persist');
    // Database 1: this test's keys stay apart from the other tests' (pub/sub is not used here).
    const persistence = { type: 'redis' as const, url: `${redis.url}/1` };
    const first = (await startTestBroker({ persistence }, d)).broker;

    const session = { clean: false, clientId: 'gw-alice' };
    let alice = await connectAs(tcpUrl(first), 'gw-alice', session);
    expect(await subscribeCodes(alice, topics.roundsCurrent(), 1)).toEqual([1]);
    await alice.endAsync();

    const agg = await connectAs(tcpUrl(first), 'aggregator');
    await agg.publishAsync(topics.modelCurrent(), 'model-v7', { qos: 1, retain: true });
    await agg.publishAsync(topics.roundsCurrent(), 'round-42', { qos: 1, retain: false });
    await agg.publishAsync(topics.roundsCurrent(), 'round-43', { qos: 1, retain: false });
    await agg.endAsync();
    await first.close();

    const second = (await startTestBroker({ persistence }, d)).broker;
    try {
      let connack: { sessionPresent?: boolean } = {};
      const rounds: string[] = [];
      let both!: Promise<void>;
      alice = await connectAs(tcpUrl(second), 'gw-alice', session, (c) => {
        c.once('connect', (p) => (connack = p));
        both = new Promise((resolve) =>
          c.on('message', (t, p) => {
            if (t === topics.roundsCurrent()) rounds.push(p.toString());
            if (rounds.length === 2) resolve();
          }),
        );
      });
      expect(connack.sessionPresent).toBe(true);
      await both;
      expect(rounds).toEqual(['round-42', 'round-43']);

      const auditor = await connectAs(tcpUrl(second), 'auditor');
      const model = nextMessage(auditor, topics.modelCurrent());
      expect(await subscribeCodes(auditor, topics.modelCurrent())).toEqual([1]);
      expect(await model).toMatchObject({ retain: true, payload: Buffer.from('model-v7') });
      await endAll(alice, auditor);
    } finally {
      await second.close();
    }
  });

  it('marks a session cut by the stop as offline on the next start (one broker, no shared emitter)', async () => {
    const d = dir('redis-status');
    const persistence = { type: 'redis' as const, url: `${redis.url}/2` };
    const first = (await startTestBroker({ persistence }, d)).broker;
    const op1 = await connectAs(tcpUrl(first), 'operator');
    expect(await subscribeCodes(op1, topics.status('gw-bob'))).toEqual([1]);
    const online = nextMessage(op1, topics.status('gw-bob'));
    const bob = await connectAs(tcpUrl(first), 'gw-bob');
    expect(parseStatusRecord((await online).payload)?.online).toBe(true);
    await first.close();
    await endAll(op1, bob);

    const second = (await startTestBroker({ persistence }, d)).broker;
    try {
      const op = await connectAs(tcpUrl(second), 'operator');
      const status = nextMessage(op, topics.status('gw-bob'));
      expect(await subscribeCodes(op, topics.status('gw-bob'))).toEqual([1]);
      expect(parseStatusRecord((await status).payload)).toMatchObject({ clientId: 'gw-bob', online: false, reason: 'broker restarted' });
      await op.endAsync(true);
    } finally {
      await second.close();
    }
  });
});

describe('emitter config', () => {
  it('defaults to none (aedes in-process), takes the persistence URL, and names the field in errors', () => {
    expect(parseBrokerConfig({ persistence: { type: 'memory' } }).emitter).toBeUndefined();
    expect(parseBrokerConfig({ persistence: { type: 'redis', url: 'redis://h:1' }, emitter: { type: 'redis' } }).emitter).toEqual({ type: 'redis' });
    const err = (raw: unknown): string => {
      try {
        parseBrokerConfig(raw);
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('expected the config to be refused');
    };
    expect(err({ persistence: { type: 'level' }, emitter: { type: 'redis', url: 'redis://h:1' } })).toMatch(/^ {2}emitter: a redis emitter needs persistence\.type redis .*got level$/m);
    expect(err({ persistence: { type: 'redis', url: 'redis://h:1' }, emitter: { type: 'kafka' } })).toMatch(/^ {2}emitter\.type: expected type: memory or redis, got "kafka"$/m);
    expect(err({ persistence: { type: 'redis', url: 'redis://h:1' }, emitter: { type: 'redis', url: 'http://h' } })).toMatch(/^ {2}emitter\.url: expected the Redis server .* as a redis:\/\/ or rediss:\/\/ URL, got "http:\/\/h"$/m);
    expect(err({ persistence: { type: 'redis', url: 'redis://h:1' }, emitter: { type: 'redis', host: 'h' } })).toMatch(/^ {2}emitter: Unrecognized key: "host"$/m);
    // An in-process aggregator would see only its own broker's updates: refused, naming the way out.
    const agg = { modelDir: 'models/base', training: { sampleRate: 0.05, steps: 20, noiseMultiplier: 1.1, maxGradNorm: 1, delta: 1e-5, lr: 0.05 }, update: { normBound: 5 } };
    expect(err({ persistence: { type: 'redis', url: 'redis://h:1' }, emitter: { type: 'redis' }, aggregator: agg })).toMatch(/^ {2}aggregator: the in-process aggregator sees only this broker's publishes; .*fedwear aggregator --broker/m);
    expect(parseBrokerConfig({ persistence: { type: 'redis', url: 'redis://h:1' }, aggregator: agg }).aggregator).toBeDefined();
  });

  it('a broker whose emitter Redis does not answer fails to start with an error naming emitter.url', async () => {
    const d = dir('redis-down');
    // Port 1: nothing listens there, so every connection attempt is refused at once.
    await expect(startTestBroker({ persistence: { type: 'redis', url: redis.url }, emitter: { type: 'redis', url: 'redis://127.0.0.1:1' } }, d)).rejects.toThrow(
      /^emitter\.url redis:\/\/127\.0\.0\.1:1: Redis did not answer within 10 s \(.*ECONNREFUSED/,
    );
  }, 30_000);
});

describe('two fedwear broker processes on one Redis', () => {
  const procs: BrokerProcess[] = [];
  let a: BrokerProcess;
  let b: BrokerProcess;
  const url = (p: BrokerProcess): string => `mqtt://127.0.0.1:${p.port}`;

  beforeAll(async () => {
    const d = dir('redis-two');
    await writeCredentials(d);
    // Database 3 for their keys; pub/sub channels are server-wide, so these two are the only brokers
    // with an emitter on this server at a time.
    a = await spawnRedisBroker(d, 'a', `${redis.url}/3`);
    procs.push(a);
    b = await spawnRedisBroker(d, 'b', `${redis.url}/3`);
    procs.push(b);
  });
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });

  it('a subscriber on A receives a QoS 1 publish made on B', async () => {
    const alice = await connectAs(url(a), 'gw-alice');
    expect(await subscribeCodes(alice, topics.roundsCurrent(), 1)).toEqual([1]);
    const got = nextMessage(alice, topics.roundsCurrent());
    const agg = await connectAs(url(b), 'aggregator');
    await agg.publishAsync(topics.roundsCurrent(), 'round-7 from B', { qos: 1, retain: false });
    expect(await got).toMatchObject({ retain: false, payload: Buffer.from('round-7 from B') });
    await endAll(alice, agg);
  });

  it('a retained message published on A is delivered to a new subscriber on B', async () => {
    const agg = await connectAs(url(a), 'aggregator');
    await agg.publishAsync(topics.modelCurrent(), 'model published on A', { qos: 1, retain: true });
    const auditor = await connectAs(url(b), 'auditor');
    const model = nextMessage(auditor, topics.modelCurrent());
    expect(await subscribeCodes(auditor, topics.modelCurrent())).toEqual([1]);
    expect(await model).toMatchObject({ retain: true, payload: Buffer.from('model published on A') });
    await endAll(agg, auditor);
  });

  it('a clean: false session subscribed on A gets, on B, what was published while it was offline', async () => {
    const session = { clean: false, clientId: 'gw-bob' };
    let bob = await connectAs(url(a), 'gw-bob', session);
    expect(await subscribeCodes(bob, topics.roundsCurrent(), 1)).toEqual([1]);
    await bob.endAsync();
    const agg = await connectAs(url(a), 'aggregator');
    await agg.publishAsync(topics.roundsCurrent(), 'queued while bob was away', { qos: 1 });
    await agg.endAsync();
    let connack: { sessionPresent?: boolean } = {};
    let got!: Promise<{ payload: Buffer }>;
    bob = await connectAs(url(b), 'gw-bob', session, (c) => {
      c.once('connect', (p) => (connack = p));
      got = nextMessage(c, topics.roundsCurrent());
    });
    expect(connack.sessionPresent).toBe(true);
    expect((await got).payload.toString()).toBe('queued while bob was away');
    await bob.endAsync(true);
  });

  it('both stop cleanly on SIGTERM', async () => {
    for (const p of [a, b]) p.child.kill('SIGTERM');
    for (const p of [a, b]) {
      const r = await p.exit;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/"level":50/);
    }
  });
});

describe('status/<clientId> records with two brokers sharing Redis', () => {
  let a: BrokerHandle | undefined;
  let b: BrokerHandle | undefined;
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('a broker start leaves live sessions on the other alone, and a session moving to another broker stays online', async () => {
    const d = dir('redis-status-two');
    const shared = { persistence: { type: 'redis' as const, url: `${redis.url}/4` }, emitter: { type: 'redis' as const } };
    a = (await startTestBroker(shared, d)).broker;
    const op = await connectAs(tcpUrl(a), 'operator');
    expect(await subscribeCodes(op, topics.status('gw-alice'))).toEqual([1]);
    const records: Array<ReturnType<typeof parseStatusRecord>> = [];
    const onlineOnA = new Promise<void>((resolve) =>
      op.on('message', (t, p) => {
        if (t !== topics.status('gw-alice')) return;
        records.push(parseStatusRecord(p));
        resolve();
      }),
    );
    const alice1 = await connectAs(tcpUrl(a), 'gw-alice');
    await onlineOnA;

    // B starts while alice is connected to A: it must not mark her offline.
    b = (await startTestBroker(shared, d)).broker;
    expect(await retainedStatus(b, 'gw-alice')).toMatchObject({ online: true });

    // alice's client id connects to B: A closes its session (aedes's cluster takeover).
    const disconnectedOnA = new Promise<void>((resolve) => a!.aedes.once('clientDisconnect', () => resolve()));
    const closed = waitClose(alice1);
    const alice2 = await connectAs(tcpUrl(b), 'gw-alice');
    await Promise.all([disconnectedOnA, closed]);
    // One turn of the event loop: A's disconnect handler defers its offline record by a setImmediate.
    await new Promise<void>((r) => setImmediate(r));
    // A barrier: a retained publish issued on A after its disconnect handler ran has been stored, so
    // anything that handler published (on the same Redis connection, earlier) has been stored too.
    await new Promise<void>((resolve, reject) =>
      a!.aedes.publish({ cmd: 'publish', topic: topics.modelCurrent(), payload: Buffer.from('barrier'), qos: 1, retain: true, dup: false }, (err) => (err ? reject(err) : resolve())),
    );
    expect(await retainedStatus(b, 'gw-alice')).toMatchObject({ clientId: 'gw-alice', online: true });
    expect(records.some((r) => r?.online === false)).toBe(false);
    await endAll(alice2, op);
  });
});

/** The retained status/<clientId> record as a new operator on `broker` receives it. */
async function retainedStatus(broker: BrokerHandle, clientId: string): Promise<ReturnType<typeof parseStatusRecord>> {
  const op: MqttClient = await connectAs(tcpUrl(broker), 'operator', { clientId: 'operator:probe' });
  try {
    const got = nextMessage(op, topics.status(clientId));
    expect(await subscribeCodes(op, topics.status(clientId))).toEqual([1]);
    const m = await got;
    expect(m.retain).toBe(true);
    return parseStatusRecord(m.payload);
  } finally {
    await op.endAsync(true);
  }
}
