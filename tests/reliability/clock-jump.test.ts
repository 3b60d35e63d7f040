/**
 * The wall clock jumps (NTP correcting a board that booted without an RTC, a VM resumed, an
 * operator's `date -s`) while the code measures time. The clock is injected where the code takes
 * one: the aggregator's round deadline (with vitest's fake setTimeout standing in for the monotonic
 * timer), the privacy ledger's entry times, the broker's per-IP token buckets.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { parseAggregatorConfig, startAggregator, topics, TokenBuckets, type AggregatorHandle, type AggregatorTransport } from '../../broker/index.ts';
import { parseRoundAnnouncement } from '../../federation/index.ts';
import { LedgerWriter, rdpAccountant, readLedgerFile, verifyLedgerFile, writeLedgerKeyPair } from '../../privacy/index.ts';
import { aggregatorConfig, makeGateways, writeCredentials } from '../aggregator/helpers.ts';
import { silentLogger } from '../broker/harness.ts';
import { removeTempDirs, tempDir } from './temp-dirs.ts';

const HOUR = 3_600_000;
const jumps: string[] = [];

afterEach(() => {
  vi.useRealTimers();
});
afterAll(() => removeTempDirs());

/** Lets the aggregator's promise chains run (setImmediate is not faked). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A transport that only records what the aggregator publishes (no gateways: the deadline is what is tested). */
function recordingTransport(): AggregatorTransport & { announcements: () => Array<{ roundId: number; deadlineMs: number }> } {
  const published: Array<{ topic: string; payload: string }> = [];
  return {
    kind: 'client',
    start: async () => undefined,
    publish: async (topic, payload) => void published.push({ topic, payload: typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8') }),
    close: async () => undefined,
    announcements: () => published.filter((p) => p.topic === topics.roundsCurrent()).map((p) => parseRoundAnnouncement(Buffer.from(p.payload))),
  };
}

async function startWithClock(now: () => number): Promise<{ agg: AggregatorHandle; transport: ReturnType<typeof recordingTransport> }> {
  const dir = tempDir('rel-clock-agg');
  const credentialsFile = await writeCredentials(dir, makeGateways(1));
  fs.mkdirSync(path.join(dir, 'aggregator-data'), { recursive: true });
  const config = parseAggregatorConfig(aggregatorConfig(dir, { round: { durationMs: 60_000, quorum: 3 }, audit: { enabled: false } }), dir);
  const transport = recordingTransport();
  const agg = await startAggregator({ config, transport, credentialsFile, log: silentLogger, now });
  await settle();
  return { agg, transport };
}

describe('reliability: wall-clock jumps', () => {
  it('aggregator: a round deadline neither fires early nor never when the wall clock jumps back an hour', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let clock = Date.UTC(2026, 10, 28, 12);
    const { agg, transport } = await startWithClock(() => clock);
    try {
      const [first] = transport.announcements();
      expect(first).toMatchObject({ roundId: 1, deadlineMs: clock + 60_000 });

      clock -= HOUR; // the wall clock jumps back
      jumps.push('aggregator deadline: -1 h');
      // The timer (monotonic) fires after the round's duration, but by the wall clock the deadline
      // is an hour away: nothing happens yet.
      clock += 60_001;
      vi.advanceTimersByTime(60_001);
      await settle();
      expect(transport.announcements()).toHaveLength(1);
      expect(agg.round.id).toBe(1);

      // The wall clock reaches the deadline (the hour it lost): the deadline fires (too few updates: extended).
      clock += HOUR;
      vi.advanceTimersByTime(HOUR);
      await settle();
      expect(transport.announcements().length).toBeGreaterThanOrEqual(2);
      expect(transport.announcements()[1]).toMatchObject({ roundId: 1, deadlineMs: clock + 60_000 });
    } finally {
      await agg.stop();
    }
  });

  it('aggregator: a wall-clock jump forward does not fire the deadline before the round has lasted its duration on the monotonic timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let clock = Date.UTC(2026, 10, 28, 12);
    const { agg, transport } = await startWithClock(() => clock);
    try {
      clock += HOUR; // the wall clock jumps forward, past the deadline
      jumps.push('aggregator deadline: +1 h');
      clock += 59_000;
      vi.advanceTimersByTime(59_000);
      await settle();
      expect(transport.announcements()).toHaveLength(1); // not fired early
      clock += 1_001;
      vi.advanceTimersByTime(1_001);
      await settle();
      // At the timer: the deadline (wall-clock, as gateways read it) is long past, so it fires now.
      expect(transport.announcements()).toHaveLength(2);
      expect(transport.announcements()[1].deadlineMs).toBe(clock + 60_000);
    } finally {
      await agg.stop();
    }
  });

  it('privacy ledger: an entry timed before the previous one (clock went back) is recorded and verifies; time never orders the chain', async () => {
    const dir = tempDir('rel-clock-ledger');
    const keys = await writeLedgerKeyPair(path.join(dir, 'keys'));
    const key = fs.readFileSync(keys.privateKeyPath);
    const file = path.join(dir, 'ledger.jsonl');
    let clock = Date.UTC(2026, 10, 28, 12);
    const w = await LedgerWriter.open(file, { privateKey: key, userId: 'alice', deviceId: 'gw-alice', accountant: rdpAccountant, delta: 1e-5, now: () => new Date(clock) });
    const spend = (round: number) => ({ noiseMultiplier: 1.1, sampleRate: 0.05, steps: 50, maxGradNorm: 1, round, modelVersion: 'base-1' });
    await w.recordSpend(spend(1));
    clock -= HOUR;
    jumps.push('ledger time: -1 h');
    await w.recordSpend(spend(2));
    clock += 2 * 24 * HOUR;
    jumps.push('ledger time: +2 d');
    await w.recordSpend(spend(3));
    await w.close();

    const entries = (await readLedgerFile(file)).lines.map((l) => (l.check.ok ? l.check.entry : null));
    expect(entries.map((e) => e?.index)).toEqual([0, 1, 2]);
    const times = entries.map((e) => Date.parse(e?.time as string));
    expect(times[1]).toBeLessThan(times[0]);
    const verdict = await verifyLedgerFile(file, { publicKey: key, accountant: rdpAccountant, delta: 1e-5 });
    expect(verdict.faults).toEqual([]);
    // Epsilon depends on the spends only, not on when they were made.
    expect(verdict.epsilon).toBeCloseTo(rdpAccountant.epsilon([spend(1), spend(2), spend(3)], 1e-5).epsilon, 12);
    // Reopening after the jumps appends after the last index, whatever its time.
    const again = await LedgerWriter.open(file, { privateKey: key, userId: 'alice', deviceId: 'gw-alice', accountant: rdpAccountant, delta: 1e-5, now: () => new Date(clock - 10 * 24 * HOUR) });
    expect((await again.recordSpend(spend(4))).index).toBe(3);
    await again.close();
  });

  it('token buckets: a forward jump hands out no more than the burst; a backward jump does not lock a client out', () => {
    let clock = 1_000_000;
    const b = new TokenBuckets({ perSecond: 2, burst: 3, now: () => clock });
    expect([b.take('ip'), b.take('ip'), b.take('ip'), b.take('ip')]).toEqual([true, true, true, false]);

    clock += HOUR;
    jumps.push('token bucket: +1 h');
    const forward = Array.from({ length: 10 }, () => b.take('ip'));
    expect(forward.filter(Boolean)).toHaveLength(3); // the burst, not 7,200 tokens

    clock -= HOUR;
    jumps.push('token bucket: -1 h');
    expect(b.take('ip')).toBe(false); // time running backwards refills nothing...
    clock += 500;
    expect(b.take('ip')).toBe(true); // ...and half a second later (2/s) the client gets a token, not in an hour
  });

  it('token buckets: the default clock is monotonic, so a wall-clock jump back changes nothing', () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    vi.setSystemTime(Date.UTC(2026, 10, 28, 12));
    const b = new TokenBuckets({ perSecond: 1_000, burst: 2 });
    expect([b.take('ip'), b.take('ip'), b.take('ip')]).toEqual([true, true, false]);
    vi.setSystemTime(Date.UTC(2026, 10, 28, 11)); // the wall clock only
    jumps.push('token bucket (default clock): -1 h');
    vi.advanceTimersByTime(1); // 1 ms of monotonic (and wall) time: one token at 1,000/s
    expect(b.take('ip')).toBe(true);
    console.log(JSON.stringify({ reliability: 'clock-jump', jumpsInjected: jumps.length, jumps }));
  });
});
