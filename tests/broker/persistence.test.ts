/** Durable state with the embedded LevelDB persistence: a broker restart keeps retained messages and QoS 1 sessions. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStatusRecord, topics } from '../../broker/index.ts';
import { connectAs, endAll, nextMessage, startTestBroker, subscribeCodes, tcpUrl, tempDir } from './harness.ts';

describe('level persistence across a broker restart', { timeout: 15_000 }, () => {
  it('keeps retained messages and the queued QoS 1 messages of an offline session', async () => {
    const dir = tempDir('persist');
    const persistence = { type: 'level' as const, path: path.join(dir, 'db') };
    const first = (await startTestBroker({ persistence }, dir)).broker;

    // A gateway with a persistent session subscribes, then goes offline.
    const session = { clean: false, clientId: 'gw-alice' };
    let alice = await connectAs(tcpUrl(first), 'gw-alice', session);
    expect(await subscribeCodes(alice, topics.roundsCurrent(), 1)).toEqual([1]);
    await alice.endAsync();

    // While it is offline: a retained model and a non-retained QoS 1 round announcement.
    const agg = await connectAs(tcpUrl(first), 'aggregator');
    await agg.publishAsync(topics.modelCurrent(), 'model-v7', { qos: 1, retain: true });
    await agg.publishAsync(topics.roundsCurrent(), 'round-42', { qos: 1, retain: false });
    await agg.endAsync();
    await first.close();

    const second = (await startTestBroker({ persistence }, dir)).broker;
    try {
      let connack: { sessionPresent?: boolean } = {};
      let round!: Promise<string>;
      alice = await connectAs(tcpUrl(second), 'gw-alice', session, (c) => {
        c.once('connect', (p) => (connack = p));
        round = nextMessage(c, topics.roundsCurrent()).then((m) => m.payload.toString());
      });
      expect(connack.sessionPresent).toBe(true);
      expect(await round).toBe('round-42');

      const auditor = await connectAs(tcpUrl(second), 'auditor');
      const model = nextMessage(auditor, topics.modelCurrent());
      expect(await subscribeCodes(auditor, topics.modelCurrent())).toEqual([1]);
      expect(await model).toMatchObject({ retain: true, payload: Buffer.from('model-v7') });

      await endAll(alice, auditor);
    } finally {
      await second.close();
    }
  });

  it('marks a session cut by the stop as offline on the next start', async () => {
    const dir = tempDir('persist-status');
    const persistence = { type: 'level' as const, path: path.join(dir, 'db') };
    const first = (await startTestBroker({ persistence }, dir)).broker;
    const op1 = await connectAs(tcpUrl(first), 'operator');
    expect(await subscribeCodes(op1, topics.status('gw-bob'))).toEqual([1]);
    const online = nextMessage(op1, topics.status('gw-bob'));
    const bob = await connectAs(tcpUrl(first), 'gw-bob');
    expect(parseStatusRecord((await online).payload)?.online).toBe(true);
    // bob is still connected when the broker stops: no offline record is written then.
    await first.close();
    await op1.endAsync(true);
    await bob.endAsync(true);

    const second = (await startTestBroker({ persistence }, dir)).broker;
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

  it('a second broker on the same store fails with an error naming persistence.path', async () => {
    const dir = tempDir('persist-lock');
    const persistence = { type: 'level' as const, path: path.join(dir, 'db') };
    const first = (await startTestBroker({ persistence }, dir)).broker;
    try {
      await expect(startTestBroker({ persistence }, dir)).rejects.toThrow(/persistence\.path .*db: cannot open the LevelDB store/);
    } finally {
      await first.close();
    }
  });
});
