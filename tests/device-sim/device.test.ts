import { describe, expect, it } from 'vitest';
import {
  LABEL_WINDOW_S,
  activityCode,
  dropoutRateFor,
  makeUsers,
  simulateDevice,
  simulateTicks,
  simulateTruth,
  truthWindows,
  type Bout,
} from '../../device-sim/index.ts';
import { LabelSource, decodeFrame, encodeFrame, type DeviceRecord } from '../../firmware-bindings/index.ts';

const users = makeUsers({ count: 5, seed: 21 });
const START = Date.UTC(2026, 0, 5, 8);
const opts = { startMs: START, durationS: 3600, seed: 77 };

function byType<T extends DeviceRecord['type']>(recs: DeviceRecord[], type: T): Extract<DeviceRecord, { type: T }>[] {
  return recs.filter((r): r is Extract<DeviceRecord, { type: T }> => r.type === type);
}

describe('simulateDevice', () => {
  it('is deterministic: the same seed gives byte-identical records, another seed does not', () => {
    const o = { ...opts, durationS: 1200 };
    for (const u of users) {
      const a = [...simulateDevice(u, o)];
      const b = [...simulateDevice(u, o)];
      expect(JSON.stringify(b)).toBe(JSON.stringify(a));
      const c = [...simulateDevice(u, { ...o, seed: 78 })];
      expect(JSON.stringify(c)).not.toBe(JSON.stringify(a));
    }
  });

  it('emits deviceInfo first, HR every second, steps/battery/RR on their periods, in time order', () => {
    const u = users[0]!;
    const recs = [...simulateDevice(u, opts)];
    expect(recs[0]!.type).toBe('deviceInfo');
    expect(recs[0]!.timestampMs).toBe(START);
    const hr = byType(recs, 'heartRate');
    expect(hr).toHaveLength(3600);
    expect(hr.map((r) => r.timestampMs)).toEqual(Array.from({ length: 3600 }, (_, i) => START + (i + 1) * 1000));
    expect(byType(recs, 'steps')).toHaveLength(Math.floor(3600 / u.device.stepsIntervalS));
    expect(byType(recs, 'battery')).toHaveLength(1 + 60);
    expect(byType(recs, 'rrIntervals').length).toBeGreaterThan(600);
    expect(recs.findIndex((r, i) => i > 0 && r.timestampMs < recs[i - 1]!.timestampMs)).toBe(-1);
    expect(recs.every((r) => r.deviceId === u.deviceId)).toBe(true);
  });

  it('numbers records with strictly increasing seq, wrapping at 2^32', () => {
    const recs = [...simulateDevice(users[1]!, { ...opts, durationS: 30, firstSeq: 2 ** 32 - 3 })];
    expect(recs.slice(0, 5).map((r) => r.seq)).toEqual([2 ** 32 - 3, 2 ** 32 - 2, 2 ** 32 - 1, 0, 1]);
    const plain = [...simulateDevice(users[1]!, opts)];
    expect(plain.findIndex((r, i) => i > 0 && r.seq !== plain[i - 1]!.seq + 1)).toBe(-1);
    expect(plain[0]!.seq).toBe(0);
  });

  it('produces values the wire format carries exactly (encode then decode is the identity)', () => {
    for (const u of users) {
      const recs = [...simulateDevice(u, { ...opts, durationS: 900 })];
      expect(recs.map((r) => decodeFrame(encodeFrame(r).subarray(0, -1)))).toEqual(recs);
    }
  });

  it('counts steps cumulatively; cyclists ride with few steps while their EE is high', () => {
    const cyclist = makeUsers({ count: 1, seed: 4, clusters: ['cyclists'] })[0]!;
    const schedule: Bout[] = [
      { activity: 'walking', startS: 0, durationS: 600, speedMpm: 85, grade: 0, labelled: false },
      { activity: 'cycling', startS: 600, durationS: 1800, vo2rFraction: 0.65, labelled: false },
    ];
    const ticks = [...simulateTicks(cyclist, { startMs: START, durationS: 2400, seed: 5, schedule, initialSteps: 1000 })];
    const steps = ticks.map((t) => t.reading.stepsTotal);
    for (let i = 1; i < steps.length; i++) expect(steps[i]!).toBeGreaterThanOrEqual(steps[i - 1]!);
    const walkSteps = steps[599]! - 1000;
    const rideSteps = steps[2399]! - steps[599]!;
    expect(walkSteps).toBeGreaterThan(900);
    expect(rideSteps).toBeLessThan(walkSteps / 10);
    const kcal = (from: number, to: number) => ticks.slice(from, to).reduce((s, t) => s + t.truth.kcalPerMin, 0) / (to - from);
    expect(kcal(1200, 2400)).toBeGreaterThan(1.5 * kcal(300, 600));
  });

  it('reports dropouts (confidence 0) at the configured rate, more during vigorous motion', () => {
    let dropped = 0;
    let expected = 0;
    const n = 7200;
    for (const u of makeUsers({ count: 6, seed: 9 })) {
      const schedule: Bout[] = [{ activity: 'rest', startS: 0, durationS: n, labelled: false }];
      let reportedAsDropout = 0;
      let mine = 0;
      for (const t of simulateTicks(u, { startMs: START, durationS: n, seed: 3, schedule })) {
        const hr = t.records.find((r) => r.type === 'heartRate');
        if (hr?.confidence === 0 && hr.bpm === 0) reportedAsDropout++;
        if (t.reading.dropout) mine++;
      }
      expect(reportedAsDropout).toBe(mine);
      dropped += mine;
      expected += dropoutRateFor(u, 'rest') * n;
    }
    expect(dropped / expected).toBeGreaterThan(0.8);
    expect(dropped / expected).toBeLessThan(1.2);
    const u = users[2]!;
    expect(dropoutRateFor(u, 'running')).toBeGreaterThan(dropoutRateFor(u, 'rest'));
  });

  it('measures HR close to the truth at rest and sends RR intervals consistent with HR', () => {
    const u = users[3]!;
    const schedule: Bout[] = [{ activity: 'rest', startS: 0, durationS: 1200, labelled: false }];
    const ticks = [...simulateTicks(u, { startMs: START, durationS: 1200, seed: 12, schedule })];
    const ok = ticks.filter((t) => !t.reading.dropout);
    const err = ok.reduce((s, t) => s + Math.abs(t.reading.bpm - t.truth.hrBpm), 0) / ok.length;
    expect(err).toBeLessThan(u.device.ppgNoiseSdBpm);
    const rr = ticks.flatMap((t) => t.records).filter((r) => r.type === 'rrIntervals').flatMap((r) => r.intervalsMs);
    const meanRr = rr.reduce((s, x) => s + x, 0) / rr.length;
    const meanHr = ticks.reduce((s, t) => s + t.truth.hrBpm, 0) / ticks.length;
    expect(60000 / meanRr).toBeCloseTo(meanHr, -1);
    // Beat-to-beat variability exists (RMSSD of a few ms to ~150 ms).
    let sq = 0;
    for (let i = 1; i < rr.length; i++) sq += (rr[i]! - rr[i - 1]!) ** 2;
    const rmssd = Math.sqrt(sq / (rr.length - 1));
    expect(rmssd).toBeGreaterThan(5);
    expect(rmssd).toBeLessThan(200);
  });

  it('sends energy labels only for labelled bouts, one per 60 s window, with about 5% noise', () => {
    const ratios: number[] = [];
    for (const u of makeUsers({ count: 5, seed: 14 })) {
      const schedule: Bout[] = [
        { activity: 'rest', startS: 0, durationS: 630, labelled: false },
        { activity: 'walking', startS: 630, durationS: 1230, speedMpm: 90, grade: 0, labelled: true, labelSource: LabelSource.ChestStrap },
        { activity: 'walking', startS: 1860, durationS: 600, speedMpm: 90, grade: 0, labelled: false },
        { activity: 'cycling', startS: 2460, durationS: 1200, vo2rFraction: 0.6, labelled: true, labelSource: LabelSource.GymEquipment },
        { activity: 'rest', startS: 3660, durationS: 600, labelled: false },
      ];
      const o = { startMs: START, durationS: 4260, seed: 6, schedule };
      const labels = byType([...simulateDevice(u, o)], 'energyLabel');
      const truth = simulateTruth(u, o);
      // 20 full windows in the walk (1230 s), 20 in the ride.
      expect(labels).toHaveLength(40);
      expect(labels.filter((l) => l.source === LabelSource.ChestStrap)).toHaveLength(20);
      for (const l of labels) {
        expect(l.durationS).toBe(LABEL_WINDOW_S);
        const end = (l.timestampMs - START) / 1000;
        expect(truth.labelled.subarray(end - 60, end).every((x) => x === 1)).toBe(true);
        const sum = truth.kcalPerMin.subarray(end - 60, end).reduce((a, x) => a + x, 0);
        ratios.push(l.kcalPerMin / (sum / 60));
      }
    }
    const m = ratios.reduce((s, x) => s + x, 0) / ratios.length;
    const sd = Math.sqrt(ratios.reduce((s, x) => s + (x - m) ** 2, 0) / (ratios.length - 1));
    expect(Math.abs(m - 1)).toBeLessThan(0.015);
    expect(sd).toBeGreaterThan(0.04);
    expect(sd).toBeLessThan(0.06);
  });

  it('labels a fraction of generated days, only inside labelled bouts', () => {
    let labels = 0;
    for (const u of makeUsers({ count: 2, seed: 31, clusters: ['cyclists', 'endurance-runners'] })) {
      // 06:00 to 21:00 UTC: the waking day, in day mode (≥ 6 h).
      const o = { startMs: Date.UTC(2026, 0, 6, 6), durationS: 15 * 3600, seed: 2 };
      const truth = simulateTruth(u, o);
      for (const r of simulateDevice(u, o)) {
        if (r.type !== 'energyLabel') continue;
        labels++;
        const end = (r.timestampMs - o.startMs) / 1000;
        expect(truth.labelled[end - 1]).toBe(1);
        expect(truth.labelled[end - 60]).toBe(1);
      }
    }
    expect(labels).toBeGreaterThan(0);
  });

  it('simulateTruth agrees with the truth behind the records', () => {
    const u = users[4]!;
    const truth = simulateTruth(u, opts);
    const ticks = [...simulateTicks(u, opts)];
    expect(ticks).toHaveLength(3600);
    expect(Float64Array.from(ticks, (t) => t.truth.kcalPerMin)).toEqual(truth.kcalPerMin);
    expect(Uint8Array.from(ticks, (t) => t.truth.activityCode)).toEqual(truth.activity);
    const windows = truthWindows(truth, 60);
    expect(windows).toHaveLength(60);
    expect(windows[0]!.meanKcalPerMin).toBeCloseTo(truth.kcalPerMin.slice(0, 60).reduce((s, x) => s + x, 0) / 60, 9);
    expect(windows[0]!.startMs).toBe(START);
    expect(activityCode(windows[0]!.activity)).toBe(truth.activity[0]);
  });

  it('rejects bad options with the field named', () => {
    const u = users[0]!;
    expect(() => [...simulateDevice(u, { startMs: START, durationS: 0, seed: 1 })]).toThrow(/durationS must be in/);
    expect(() => [...simulateDevice(u, { startMs: -5, durationS: 10, seed: 1 })]).toThrow(/startMs/);
    expect(() => [...simulateDevice(u, { startMs: START, durationS: 10, seed: 1.5 })]).toThrow(/seed must be an integer/);
    expect(() => simulateTruth(u, { startMs: START, durationS: 10, seed: 1, schedule: 'week' as 'day' })).toThrow(/schedule must be/);
  });
});
