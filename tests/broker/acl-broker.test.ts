/**
 * Every forbidden move of the ACL table, tried with real mqtt.js clients against a real aedes broker
 * on a loopback port, plus the allowed moves end to end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricTotal, parseStatusRecord, topics, type BrokerHandle } from '../../broker/index.ts';
import { connectAs, endAll, nextMessage, recordTopics, startTestBroker, subscribeCodes, tcpUrl, waitClose } from './harness.ts';

const T = (s: string): string => `fedwear/v1/${s}`;

let broker: BrokerHandle;
let url: string;
/** Every message that entered the broker's message bus (in-process subscription: sees all, bypasses the ACL). */
const bus: Array<{ topic: string; payload: string }> = [];

beforeAll(async () => {
  ({ broker } = await startTestBroker());
  url = tcpUrl(broker);
  await new Promise<void>((resolve) =>
    broker.aedes.subscribe('fedwear/v1/#', (packet, cb) => { bus.push({ topic: packet.topic, payload: packet.payload.toString() }); cb(); }, resolve),
  );
});

afterAll(async () => {
  await broker.close();
});

describe('allowed moves', () => {
  it('each role reaches exactly the parties the design table names', async () => {
    const [alice, agg, aud, op] = await Promise.all([connectAs(url, 'gw-alice'), connectAs(url, 'aggregator'), connectAs(url, 'auditor'), connectAs(url, 'operator')]);
    try {
      for (const f of [T('updates/+'), T('privacy/+/#')]) expect(await subscribeCodes(agg, f)).toEqual([1]);
      for (const f of [T('privacy/+/ledger'), T('privacy/+/budget'), T('audit/+'), T('model/current'), T('metrics/rounds')]) expect(await subscribeCodes(aud, f)).toEqual([1]);
      for (const f of [T('metrics/rounds'), T('status/+')]) expect(await subscribeCodes(op, f)).toEqual([1]);
      for (const f of [T('model/current'), T('rounds/current'), T('audit/alice'), T('privacy/alice/#')]) expect(await subscribeCodes(alice, f)).toEqual([1]);

      let got: Array<Promise<unknown>> = [nextMessage(agg, T('updates/gw-alice'))];
      await alice.publishAsync(T('updates/gw-alice'), Buffer.from([1, 2, 3]), { qos: 1 });
      expect(((await got[0]) as { payload: Buffer }).payload).toEqual(Buffer.from([1, 2, 3]));

      got = [nextMessage(agg, T('privacy/alice/ledger')), nextMessage(aud, T('privacy/alice/ledger')), nextMessage(alice, T('privacy/alice/ledger'))];
      await alice.publishAsync(T('privacy/alice/ledger'), 'entry-1', { qos: 1 });
      await Promise.all(got);

      got = [nextMessage(aud, T('privacy/alice/budget'))];
      await alice.publishAsync(T('privacy/alice/budget'), 'eps=1.2', { qos: 1, retain: true });
      await Promise.all(got);

      got = [nextMessage(alice, T('model/current')), nextMessage(aud, T('model/current'))];
      await agg.publishAsync(T('model/current'), 'model-v1', { qos: 1, retain: true });
      await Promise.all(got);

      got = [nextMessage(alice, T('rounds/current'))];
      await agg.publishAsync(T('rounds/current'), 'round-1', { qos: 1, retain: true });
      await Promise.all(got);

      got = [nextMessage(alice, T('audit/alice')), nextMessage(aud, T('audit/alice'))];
      await agg.publishAsync(T('audit/alice'), 'ok', { qos: 1, retain: true });
      await Promise.all(got);

      got = [nextMessage(op, T('metrics/rounds')), nextMessage(aud, T('metrics/rounds'))];
      await agg.publishAsync(T('metrics/rounds'), '{}', { qos: 1, retain: true });
      await Promise.all(got);
    } finally {
      await endAll(alice, agg, aud, op);
    }
  });

  it('the broker publishes a retained status/<clientId> record when a session starts and ends', async () => {
    const op = await connectAs(url, 'operator');
    try {
      expect(await subscribeCodes(op, T('status/+'))).toEqual([1]);
      const online = nextMessage(op, topics.status('gw-bob'));
      const bob = await connectAs(url, 'gw-bob');
      expect(parseStatusRecord((await online).payload)).toMatchObject({ v: 1, clientId: 'gw-bob', username: 'gw-bob', role: 'gateway', online: true });
      const offline = nextMessage(op, topics.status('gw-bob'));
      // A forbidden publish drops bob; the record says why.
      bob.publish(T('updates/gw-alice'), 'x', { qos: 1 });
      await waitClose(bob);
      const record = parseStatusRecord((await offline).payload);
      expect(record).toMatchObject({ clientId: 'gw-bob', online: false });
      expect(record?.reason).toMatch(/may not publish "fedwear\/v1\/updates\/gw-alice"/);
      await bob.endAsync(true);
    } finally {
      await op.endAsync(true);
    }
  });
});

describe('forbidden publishes drop the connection, are counted, and reach nobody', () => {
  const cases: Array<[string, string]> = [
    ['gw-alice', T('updates/gw-bob')],
    ['gw-alice', T('privacy/bob/ledger')],
    ['gw-alice', T('privacy/bob/budget')],
    ['gw-alice', T('model/current')],
    ['gw-alice', T('rounds/current')],
    ['gw-alice', T('audit/alice')],
    ['gw-alice', T('metrics/rounds')],
    ['gw-alice', T('status/gw-alice')],
    ['gw-alice', T('privacy/alice/other')],
    ['gw-alice', 'wearables/alice/update'],
    ['gw-alice', '$SYS/fake/heartbeat'],
    ['aggregator', T('updates/gw-alice')],
    ['aggregator', T('privacy/alice/ledger')],
    ['aggregator', T('privacy/alice/budget')],
    ['aggregator', T('status/aggregator')],
    ['auditor', T('audit/alice')],
    ['auditor', T('privacy/alice/budget')],
    ['auditor', T('model/current')],
    ['auditor', T('metrics/rounds')],
    ['operator', T('metrics/rounds')],
    ['operator', T('status/gw-alice')],
  ];
  it.each(cases)('%s → %s', async (username, topic) => {
    const before = await metricTotal(broker.metrics.publishDenied);
    const marker = `forbidden ${username} ${topic}`;
    const client = await connectAs(url, username);
    const closed = waitClose(client);
    client.publish(topic, marker, { qos: 1 }, () => {});
    await closed;
    await client.endAsync(true);
    expect(await metricTotal(broker.metrics.publishDenied)).toBe(before + 1);
    expect(bus.filter((m) => m.payload === marker)).toEqual([]);
  });
});

describe('forbidden subscriptions get SUBACK 128 and the connection stays', () => {
  const cases: Record<string, string[]> = {
    'gw-alice': [
      T('updates/+'), T('updates/gw-bob'), T('updates/gw-alice'), T('#'), '#', T('+/current'), T('privacy/bob/#'), T('privacy/bob/ledger'),
      T('privacy/+/ledger'), T('privacy/+/budget'), T('privacy/#'), T('audit/bob'), T('audit/+'), T('metrics/rounds'), T('status/+'), '$SYS/#',
    ],
    auditor: [T('updates/+'), T('updates/gw-alice'), T('rounds/current'), T('privacy/+/#'), T('privacy/alice/#'), T('metrics/+'), T('metrics/#'), T('status/+'), T('#'), '$SYS/#'],
    aggregator: [T('model/current'), T('rounds/current'), T('audit/+'), T('metrics/rounds'), T('status/+'), T('#'), T('privacy/#')],
    operator: [T('updates/+'), T('privacy/+/ledger'), T('model/current'), T('audit/+'), T('#'), '#'],
  };
  const allowedProbe: Record<string, string> = {
    'gw-alice': T('model/current'),
    auditor: T('audit/+'),
    aggregator: T('updates/+'),
    operator: T('status/+'),
  };
  for (const [username, filters] of Object.entries(cases)) {
    it(`${username}: ${filters.length} refused filters`, async () => {
      const before = await metricTotal(broker.metrics.subscribeDenied);
      const client = await connectAs(url, username);
      try {
        for (const f of filters) expect(await subscribeCodes(client, f), f).toEqual([128]);
        expect(await metricTotal(broker.metrics.subscribeDenied)).toBe(before + filters.length);
        expect(client.connected).toBe(true);
        expect(await subscribeCodes(client, allowedProbe[username])).toEqual([1]);
      } finally {
        await client.endAsync(true);
      }
    });
  }

  it('a refused wildcard delivers no retained message', async () => {
    const bob = await connectAs(url, 'gw-bob');
    await bob.publishAsync(T('privacy/bob/budget'), 'bob-budget', { qos: 1, retain: true });
    await bob.endAsync(true);
    const alice = await connectAs(url, 'gw-alice');
    try {
      const seen = recordTopics(alice);
      expect(await subscribeCodes(alice, T('privacy/+/budget'))).toEqual([128]);
      // Barrier: alice's own budget round trip; anything the refused filter let through would have come first.
      expect(await subscribeCodes(alice, T('privacy/alice/budget'))).toEqual([1]);
      const own = nextMessage(alice, T('privacy/alice/budget'));
      await alice.publishAsync(T('privacy/alice/budget'), 'alice-budget', { qos: 1 });
      await own;
      expect(seen).not.toContain(T('privacy/bob/budget'));
    } finally {
      await alice.endAsync(true);
    }
  });

  it('a refused filter stored in a persistent session delivers nothing after reconnect', async () => {
    // aedes persists every filter of a SUBSCRIBE packet, refused ones included; authorizeForward stops the replay.
    const session = { clean: false, clientId: 'gw-alice:persist' };
    let alice = await connectAs(url, 'gw-alice', session);
    const granted = await new Promise<number[]>((resolve) => {
      alice.once('packetreceive', (p) => p.cmd === 'suback' && resolve((p.granted as number[]).slice()));
      alice.subscribe({ [T('rounds/current')]: { qos: 1 }, [T('updates/+')]: { qos: 1 } }, () => {});
    });
    expect(granted).toEqual([1, 128]);
    await alice.endAsync();
    const forwardDeniedBefore = await metricTotal(broker.metrics.forwardDenied);

    const [bob, agg] = await Promise.all([connectAs(url, 'gw-bob'), connectAs(url, 'aggregator')]);
    await bob.publishAsync(T('updates/gw-bob'), 'bob-update', { qos: 1 });
    await agg.publishAsync(T('rounds/current'), 'round-7', { qos: 1 });
    await endAll(bob, agg);

    const seen: string[] = [];
    let round!: Promise<string>;
    alice = await connectAs(url, 'gw-alice', session, (c) => {
      c.on('message', (t) => seen.push(t));
      round = nextMessage(c, T('rounds/current')).then((m) => m.payload.toString());
    });
    expect(await round).toBe('round-7');
    expect(seen).not.toContain(T('updates/gw-bob'));
    expect(await metricTotal(broker.metrics.forwardDenied)).toBeGreaterThan(forwardDeniedBefore);
    await alice.endAsync(true);
  });
});

describe('authentication', () => {
  const refused = async (opts: Parameters<typeof connectAs>[2], username = 'gw-alice'): Promise<{ code?: number; message: string }> => {
    const err = await connectAs(url, username, opts).then(
      (c) => {
        void c.endAsync(true);
        throw new Error('connected, but should have been refused');
      },
      (e: Error & { code?: number }) => e,
    );
    return { code: err.code, message: err.message };
  };

  it('refuses a bad password, an unknown user and a missing password with code 4, and counts them', async () => {
    const before = await metricTotal(broker.metrics.authRefused, { reason: 'bad_credentials' });
    expect(await refused({ password: 'wrong' })).toMatchObject({ code: 4, message: expect.stringMatching(/Bad username or password/i) });
    expect((await refused({ password: 'whatever' }, 'nobody')).code).toBe(4);
    expect((await refused({ password: undefined })).code).toBe(4);
    expect(await metricTotal(broker.metrics.authRefused, { reason: 'bad_credentials' })).toBe(before + 3);
  });

  it('refuses a client id that is not the username (code 2) and accepts username:session', async () => {
    expect((await refused({ clientId: 'gw-bob' })).code).toBe(2);
    expect((await refused({ clientId: 'gw-alicex' })).code).toBe(2);
    expect((await refused({ clientId: '' , clean: true })).code).toBe(2);
    const shard = await connectAs(url, 'aggregator', { clientId: 'aggregator:shard-1' });
    const clients = (broker.aedes as unknown as { clients: Record<string, Parameters<BrokerHandle['identityOf']>[0]> }).clients;
    expect(broker.identityOf(clients['aggregator:shard-1'])).toEqual({ role: 'aggregator', username: 'aggregator' });
    await shard.endAsync(true);
  });

  it('refuses a will on a topic the client may not publish (code 5) and accepts one it may', async () => {
    expect((await refused({ will: { topic: T('status/gw-alice'), payload: Buffer.from('gone'), qos: 1, retain: true } })).code).toBe(5);
    expect((await refused({ will: { topic: T('updates/gw-bob'), payload: Buffer.from('x'), qos: 0, retain: false } })).code).toBe(5);
    const ok = await connectAs(url, 'gw-alice', { will: { topic: T('privacy/alice/budget'), payload: Buffer.from('offline'), qos: 1, retain: false } });
    expect(ok.connected).toBe(true);
    await ok.endAsync(true);
  });
});
