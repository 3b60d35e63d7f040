import { describe, expect, it } from 'vitest';
import { FEATURE_INDEX, Windower, recordWindows, windowRecords, type RecordWindow } from '../../models/index.ts';
import { makeUsers, simulateDevice } from '../../device-sim/index.ts';
import type { DeviceRecord } from '../../firmware-bindings/index.ts';
import { PROFILE, T0, hr, label, stream } from './helpers.ts';

const spans = (ws: readonly RecordWindow[]) => ws.map((w) => [(w.startMs - T0) / 1000, (w.endMs - T0) / 1000, w.label?.kcalPerMin]);

/** Inserts records keeping time order (a label goes after the other records with its timestamp). */
function withRecords(base: DeviceRecord[], extra: DeviceRecord[]): DeviceRecord[] {
  const out = [...base];
  for (const r of extra) {
    let i = out.length;
    while (i > 0 && out[i - 1].timestampMs > r.timestampMs) i--;
    out.splice(i, 0, r);
  }
  return out;
}

describe('windowing', () => {
  it('cuts a 60-s grid, gives a label its own window, and clips grid windows around it', () => {
    // Five minutes; a label covering [90 s, 150 s) arrives at 150 s.
    const recs = withRecords(stream(T0, T0 + 300_000, { cadence: 100 }), [label(T0 + 150_000, 4.5)]);
    const { windows, counters } = recordWindows(recs);
    expect(spans(windows)).toEqual([
      [0, 60, undefined],
      [60, 90, undefined],
      [90, 150, 4.5],
      [150, 180, undefined],
      [180, 240, undefined],
      [240, 300, undefined],
    ]);
    expect(counters).toMatchObject({ windows: 6, labelledWindows: 1, shortFragments: 0, emptyWindows: 0, labelsRejected: 0 });
    expect(windows[2].label?.source).toBe(1);
    // The labelled window's features describe its own seconds.
    expect(windows[2].stats.hrRecords).toBe(60);
    expect(windows[1].stats.durationS).toBe(30);
    expect(windows[1].stats.cadenceSpm).toBeCloseTo(100, 0);
  });

  it('drops grid fragments shorter than minWindowS, counting them', () => {
    // Label [70 s, 130 s): fragment [60, 70) is 10 s (dropped), [130, 180) is 50 s (kept).
    const recs = withRecords(stream(T0, T0 + 240_000), [label(T0 + 130_000, 3)]);
    const { windows, counters } = recordWindows(recs);
    expect(spans(windows)).toEqual([
      [0, 60, undefined],
      [70, 130, 3],
      [130, 180, undefined],
      [180, 240, undefined],
    ]);
    expect(counters.shortFragments).toBe(1);
  });

  it('handles back-to-back labels (a labelled bout) and rejects overlapping or over-long ones', () => {
    const recs = withRecords(stream(T0, T0 + 600_000), [
      label(T0 + 100_000, 5),
      label(T0 + 160_000, 6),
      label(T0 + 190_000, 7), // overlaps [100, 160): rejected
      label(T0 + 500_000, 8, 400), // longer than maxLabelS 300: rejected
    ]);
    const { windows, counters } = recordWindows(recs);
    expect(spans(windows).filter((s) => s[2] !== undefined)).toEqual([
      [40, 100, 5],
      [100, 160, 6],
    ]);
    expect(counters.labelsRejected).toBe(2);
    // Windows never overlap and are in order.
    for (let i = 1; i < windows.length; i++) expect(windows[i].startMs).toBeGreaterThanOrEqual(windows[i - 1].endMs);
  });

  it('skips empty time (device off) and counts the empty grid windows', () => {
    const recs = [...stream(T0, T0 + 120_000), ...stream(T0 + 600_000, T0 + 720_000)];
    const { windows, counters } = recordWindows(recs);
    expect(spans(windows)).toEqual([
      [0, 60, undefined],
      [60, 120, undefined],
      [600, 660, undefined],
      [660, 720, undefined],
    ]);
    expect(counters.emptyWindows).toBe(8);
  });

  it('streams: windows come out during the stream, a label delay behind, and equal the batch result', () => {
    const recs = withRecords(stream(T0, T0 + 1_200_000, { cadence: 60 }), [label(T0 + 700_000, 2.5)]);
    const w = new Windower({ maxLabelS: 120 });
    const live: RecordWindow[] = [];
    let firstAtMs = Number.NaN;
    for (const r of recs) {
      const out = w.push(r);
      if (out.length > 0 && Number.isNaN(firstAtMs)) firstAtMs = r.timestampMs;
      live.push(...out);
    }
    // The first window [0, 60) is final once the stream is 120 s (maxLabelS) past its end.
    expect(firstAtMs - T0).toBe(180_000);
    const beforeFlush = live.length;
    live.push(...w.flush());
    expect(beforeFlush).toBeGreaterThan(15);
    expect(spans(live)).toEqual(spans(recordWindows(recs, { maxLabelS: 120 }).windows));
  });

  it('drops records older than the last one and counts them', () => {
    const w = new Windower();
    w.push(hr(T0 + 5000, 80));
    expect(w.push(hr(T0 + 4000, 80))).toEqual([]);
    expect(w.counters.outOfOrder).toBe(1);
  });

  it('rejects bad options naming them', () => {
    expect(() => new Windower({ windowS: 0 })).toThrow(/windowS/);
    expect(() => new Windower({ windowS: 30, minWindowS: 40 })).toThrow(/minWindowS/);
  });

  it('windowRecords attaches features with the profile, estimating resting HR when it is not given', () => {
    const recs = withRecords(stream(T0, T0 + 300_000, { bpm: () => 90 }), [label(T0 + 150_000, 4.5)]);
    const short = windowRecords(recs, PROFILE);
    // Five minutes are too little history: the default resting HR.
    expect(short.profile.restingHrSource).toBe('default');
    expect(short.windows.map((x) => x.label?.kcalPerMin)).toContain(4.5);
    expect(short.windows[0].features[FEATURE_INDEX.hrAboveRestBpm]).toBeCloseTo(20, 4);
    const given = windowRecords(recs, { ...PROFILE, restingHrBpm: 50 });
    expect(given.windows[0].features[FEATURE_INDEX.hrAboveRestBpm]).toBeCloseTo(40, 4);
    const fromGateway = windowRecords(recs, PROFILE, { restingHrEstimate: 62 });
    expect(fromGateway.profile).toMatchObject({ restingHrBpm: 62, restingHrSource: 'estimated' });
    // Two hours of still data at 58–62 bpm: estimated from these windows.
    const long = windowRecords(stream(T0, T0 + 7_200_000, { bpm: (t) => 58 + ((t / 60_000) % 5) }), PROFILE);
    expect(long.profile.restingHrSource).toBe('estimated');
    expect(long.profile.restingHrBpm).toBeGreaterThanOrEqual(58);
    expect(long.profile.restingHrBpm).toBeLessThan(60);
  });

  it('on a simulated device, every label becomes exactly one labelled window over its own seconds', () => {
    const [user] = makeUsers({ count: 1, seed: 3, clusters: ['cyclists'] });
    const recs = [...simulateDevice(user, { startMs: T0, durationS: 3 * 3600, seed: 3, schedule: 'session' })];
    const labels = recs.filter((r) => r.type === 'energyLabel');
    expect(labels.length).toBeGreaterThan(0);
    const { windows, counters } = recordWindows(recs);
    expect(counters.labelledWindows).toBe(labels.length);
    expect(counters.labelsRejected).toBe(0);
    const labelled = windows.filter((w) => w.label !== undefined);
    labelled.forEach((w, i) => {
      expect(w.endMs).toBe(labels[i].timestampMs);
      expect(w.endMs - w.startMs).toBe(60_000);
      expect(w.label?.kcalPerMin).toBe((labels[i] as { kcalPerMin: number }).kcalPerMin);
      expect(w.stats.hrRecords).toBe(60);
    });
    // The windows cover the run but for dropped fragments.
    const covered = windows.reduce((s, w) => s + (w.endMs - w.startMs), 0);
    expect(covered).toBeGreaterThan(3 * 3600 * 1000 - counters.shortFragments * 15_000 - 1);
  });
});
