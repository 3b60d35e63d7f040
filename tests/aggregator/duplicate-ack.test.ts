/**
 * A PUBACK means "counted and durable", also for the copy of an update that is refused as a
 * duplicate: a gateway that re-sends from a new session (after a cut) takes whichever PUBACK comes
 * first as delivered, so it must not come before the original's journal line is on disk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startBroker, startInProcessAggregator, topics, type AggregatorHandle, type BrokerHandle } from '../../broker/index.ts';
import { connectAs, silentLogger, tcpUrl, tempDir } from '../broker/harness.ts';
import { aggregatorConfig, deltaFor, makeGateways, seal, writeCredentials } from './helpers.ts';

describe('a refused copy is acknowledged only after its accepted original is durable', { timeout: 60_000 }, () => {
  const gws = makeGateways(8);
  let broker: BrokerHandle;
  let agg: AggregatorHandle;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    const dir = tempDir('agg-dup-ack');
    const credentialsFile = await writeCredentials(dir, gws);
    broker = await startBroker(
      {
        credentialsFile,
        tcp: { host: '127.0.0.1', port: 0 },
        persistence: { type: 'memory' },
        limits: { connectionsPerIpPerSecond: 10_000, connectionBurstPerIp: 10_000 },
        aggregator: aggregatorConfig(dir, { round: { durationMs: 600_000, quorum: 100 } }),
      },
      { logger: silentLogger },
    );
    agg = await startInProcessAggregator(broker);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await agg?.stop();
    await broker?.close();
  });

  it('for every gateway, the durable "accepted" comes before the PUBACK of either copy', async () => {
    const order: string[] = [];
    agg.events.on('accepted', (a) => order.push(`durable ${a.update.clientId}`));
    const rejected: string[] = [];
    agg.events.on('rejected', (r) => rejected.push(r.reason));
    await Promise.all(
      gws.map(async (g, i) => {
        // The same bytes from two sessions of one gateway, sent together: one is accepted, the other
        // refused as a duplicate while the first one's journal write may still be in flight.
        const bytes = Buffer.from(seal(g, deltaFor(40 + i), { round: 1, modelVersion: 'base-1' }));
        const [a, b] = await Promise.all([connectAs(tcpUrl(broker), g.username, { clientId: `${g.username}:a` }), connectAs(tcpUrl(broker), g.username, { clientId: `${g.username}:b` })]);
        clients.push(a, b);
        await Promise.all([a, b].map((c) => c.publishAsync(topics.updates(g.username), bytes, { qos: 1 }).then(() => order.push(`puback ${g.username}`))));
      }),
    );
    expect(rejected).toEqual(gws.map(() => 'duplicate'));
    expect(agg.acceptedCount).toBe(gws.length);
    for (const g of gws) {
      const durable = order.indexOf(`durable ${g.username}`);
      expect(durable, `${g.username}: ${order.join(', ')}`).toBeGreaterThanOrEqual(0);
      expect(order.indexOf(`puback ${g.username}`), `${g.username}: ${order.join(', ')}`).toBeGreaterThan(durable);
    }
  });
});
