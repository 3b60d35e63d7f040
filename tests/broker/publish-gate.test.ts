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

  it('a hold keeps PUBACKs back until released, then runs the gates added meanwhile', async () => {
    const release = broker.publishGates.hold([topicFilters.allUpdates]);
    const alice = await connectAs(tcpUrl(broker), 'gw-alice');
    let acked = false;
    const published = alice.publishAsync(topics.updates('gw-alice'), 'held', { qos: 1 }).then(() => (acked = true));
    // Another topic passes while the hold is on; once its PUBACK is in, the held publish was read too.
    await alice.publishAsync(topics.privacyBudget('alice'), 'b', { qos: 1 });
    expect(acked).toBe(false);
    const seen: string[] = [];
    const remove = broker.publishGates.add(topicFilters.allUpdates, async (packet) => void seen.push(packet.payload.toString()));
    release();
    await published;
    expect(seen).toEqual(['held']);
    remove();
    await alice.endAsync();
  });

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
