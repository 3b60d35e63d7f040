/**
 * Churn, small: 100 gateways on a real broker with the in-process aggregator, 3 rounds, 10% of the
 * gateways disconnecting each round (5 stay offline for the round, 5 are cut while publishing and
 * re-send). Every round closes on its quorum of 95, and every acknowledged update is counted exactly
 * once. The 1,000-gateway version with memory figures is bench/churn-load.ts.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricTotal, startBroker, startInProcessAggregator, type AggregatorHandle, type BrokerHandle } from '../../broker/index.ts';
import { silentLogger, tcpUrl, tempDir } from '../broker/harness.ts';
import { aggregatorConfig, deltaFor, makeGateways, passwordOf, seal, writeCredentials } from '../aggregator/helpers.ts';
import { churnFaults, runChurn, type ChurnRound } from './churn.ts';

const N = 100;
const LEAVERS = 5;
const MID_PUBLISH = 5;
const ROUNDS = 3;

describe('churn: 100 gateways, 3 rounds, 10% disconnecting each round', { timeout: 60_000 }, () => {
  const gws = makeGateways(N);
  let broker: BrokerHandle;
  let agg: AggregatorHandle;
  const acceptedByRound = new Map<number, string[]>();
  let dir: string;

  beforeAll(async () => {
    dir = tempDir('churn');
    const credentialsFile = await writeCredentials(dir, gws);
    broker = await startBroker(
      {
        credentialsFile,
        tcp: { host: '127.0.0.1', port: 0 },
        persistence: { type: 'memory' },
        limits: { connectionsPerIpPerSecond: 10_000, connectionBurstPerIp: 10_000 },
        aggregator: aggregatorConfig(dir, {
          // No deadline in reach: a round closes only when every online gateway's update is counted.
          round: { durationMs: 3_600_000, quorum: N - LEAVERS },
          strategy: { name: 'fedavg' },
          update: { normBound: 5, maxBytes: 64 * 1024, encodings: ['int8-dense'] },
          audit: { enabled: false, refuseFaultyUsers: false },
        }),
      },
      { logger: silentLogger },
    );
    agg = await startInProcessAggregator(broker);
    agg.events.on('accepted', ({ round, update }) => acceptedByRound.set(round, [...(acceptedByRound.get(round) ?? []), update.clientId]));
  });
  afterAll(async () => {
    await agg?.stop();
    await broker?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('closes every round, and counts each acknowledged update exactly once', async () => {
    const reports: ChurnRound[] = await runChurn({
      url: tcpUrl(broker),
      gateways: gws.map((g) => ({ username: g.username, password: passwordOf(g.username), privateKey: g.privateKey })),
      rounds: ROUNDS,
      leavers: LEAVERS,
      midPublish: MID_PUBLISH,
      seed: 11,
      observer: { username: 'operator', password: passwordOf('operator') },
      envelope: (g, round, modelVersion) => {
        const i = Number(g.username.slice(3));
        return seal(gws[i], deltaFor(round * 1000 + i), { round, modelVersion, encoding: 'int8-dense' });
      },
      // The 'accepted' event follows the fsynced journal line, before the round can close.
      acceptedIn: async (round) => acceptedByRound.get(round) ?? [],
      // A round that never closes fails with the driver's message, before vitest's timeout.
      closeTimeoutMs: 30_000,
    });

    expect(reports.map((r) => r.round)).toEqual([1, 2, 3]);
    for (const r of reports) {
      expect(churnFaults(r, N - LEAVERS)).toEqual([]);
      expect(r.metrics).toMatchObject({ roundId: r.round, closedBy: 'quorum', accepted: N - LEAVERS });
      expect(r.cutAfterSend + r.cutMidPacket).toBe(MID_PUBLISH);
      expect(r.online).toBe(N - LEAVERS);
    }
    // Churn happened: gateways left in every round and came back in later ones.
    expect(reports[0].left).toBe(LEAVERS);
    expect(reports.slice(1).every((r) => r.returned > 0 && r.returned === r.left)).toBe(true);
    // The aggregator's counter agrees with the rounds: nothing counted outside them.
    expect(await metricTotal(agg.metrics.accepted)).toBe(ROUNDS * (N - LEAVERS));
    expect(agg.round.id).toBe(ROUNDS + 1);
    console.log(
      reports
        .map((r) => `round ${r.round}: ${r.online} online (${r.left} left, ${r.returned} back), cut ${r.cutAfterSend} after send + ${r.cutMidPacket} mid-packet; accepted ${r.metrics.accepted}, rejected ${JSON.stringify(r.metrics.rejected)}`)
        .join('\n'),
    );
  });
});
