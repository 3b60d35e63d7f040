/** Publish gates: in-process work that finishes before the client's PUBACK. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Packet } from 'mqtt';
import { topicFilters, topics, type BrokerHandle } from '../../broker/index.ts';
import { connectAs, startTestBroker, tcpUrl, waitClose } from './harness.ts';

describe('publish gates', { timeout: 20_000 }, () => {
  let broker: BrokerHandle;
  beforeAll(async () => {
    ({ broker } = await startTestBroker());
  });
  afterAll(() => broker.close());

  it('holds the PUBACK until the gate resolves, in publish order, and leaves other topics alone', async () => {
    const done: string[] = [];
    const release: Array<() => void> = [];
    const remove = broker.publishGates.add(topicFilters.allUpdates, (packet) => {
      const body = packet.payload.toString();
      return new Promise<void>((resolve) => release.push(() => (done.push(body), resolve())));
    });
    const alice = await connectAs(tcpUrl(broker), 'gw-alice');
    const acks: number[] = [];
    alice.on('packetreceive', (p: Packet) => {
      if (p.cmd === 'puback') acks.push(p.messageId!);
    });
    const first = alice.publishAsync(topics.updates('gw-alice'), 'one', { qos: 1 });
    const second = alice.publishAsync(topics.updates('gw-alice'), 'two', { qos: 1 });
    // An ungated topic is acknowledged at once, gates pending or not.
    await alice.publishAsync(topics.privacyBudget('alice'), 'b', { qos: 1 });
    expect(acks).toHaveLength(1);
    // aedes reads one client's packets in order, so both gates were entered before the budget's PUBACK.
    expect(release).toHaveLength(2);
    expect(done).toEqual([]);
    // Released out of order: the PUBACKs still come in publish order.
    release[1]();
    release[0]();
    await Promise.all([first, second]);
    expect(done).toEqual(['two', 'one']);
    expect(acks.slice(1)).toEqual([...acks.slice(1)].sort((a, b) => a - b));
    remove();
    await alice.endAsync(true);
  });

  it('a gate that fails drops the connection instead of acknowledging', async () => {
    const remove = broker.publishGates.add(topicFilters.allUpdates, () => Promise.reject(new Error('disk full')));
    const bob = await connectAs(tcpUrl(broker), 'gw-bob');
    const closed = waitClose(bob);
    bob.publish(topics.updates('gw-bob'), 'x', { qos: 1 });
    await closed;
    expect(bob.connected).toBe(false);
    remove();
    await bob.endAsync(true);
  });
});
