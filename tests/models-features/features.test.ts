import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RESTING_HR_BPM,
  DEFAULT_RMSSD_MS,
  FEATURE_COUNT,
  FEATURE_INDEX,
  FEATURE_NAMES,
  type WindowStats,
  estimateRestingHr,
  extractFeatures,
  featuresFromStats,
  resolveProfile,
  windowStats,
} from '../../models/index.ts';
import type { DeviceRecord } from '../../firmware-bindings/index.ts';
import { PROFILE, T0, hr, rr, steps } from './helpers.ts';

const RANGE = { startMs: T0, endMs: T0 + 60_000 };

/** 60 HR readings alternating 100 and 110 bpm; steps +10 every 5 s from a baseline at the start: 120 steps/min. */
function steadyWindow(): DeviceRecord[] {
  const recs: DeviceRecord[] = [steps(T0, 1000)];
  for (let i = 1; i <= 60; i++) {
    recs.push(hr(T0 + i * 1000, i % 2 === 0 ? 100 : 110));
    if (i % 5 === 0) recs.push(steps(T0 + i * 1000, 1000 + 2 * i));
  }
  return recs;
}

describe('feature names', () => {
  it('lists the design features in a fixed order, with an index per name', () => {
    expect(FEATURE_NAMES).toEqual([
      'hrMeanBpm', 'hrAboveRestBpm', 'hrReserveFraction', 'hrSdBpm', 'cadenceSpm', 'cadenceSdSpm',
      'lnRmssdMs', 'hrValidFraction', 'ageY', 'weightKg', 'heightCm', 'sexMale',
    ]);
    expect(FEATURE_COUNT).toBe(12);
    FEATURE_NAMES.forEach((n, i) => expect(FEATURE_INDEX[n]).toBe(i));
  });
});

describe('windowStats', () => {
  it('computes mean, SD, valid fraction and cadence of a hand-built window', () => {
    const s = windowStats(steadyWindow(), RANGE)!;
    expect(s.durationS).toBe(60);
    expect(s.hrRecords).toBe(60);
    expect(s.hrValid).toBe(60);
    expect(s.hrValidFraction).toBe(1);
    expect(s.hrMeanBpm).toBeCloseTo(105, 10);
    expect(s.hrSdBpm).toBeCloseTo(5, 10);
    expect(s.cadenceSpm).toBeCloseTo(120, 10);
    expect(s.cadenceSdSpm).toBeCloseTo(0, 10);
    expect(s.stepsCoverage).toBeCloseTo(1, 12);
    expect(s.rmssdMs).toBeNull();
  });

  it('takes records stamped in (start, end]: a record describes the second before its timestamp', () => {
    const s = windowStats([hr(T0, 200), hr(T0 + 1000, 60), hr(T0 + 60_000, 70), hr(T0 + 61_000, 200)], RANGE)!;
    expect(s.hrRecords).toBe(2);
    expect(s.hrMeanBpm).toBe(65);
  });

  it('excludes dropouts (confidence 0) and implausible readings from HR, and counts them out of the valid fraction', () => {
    const recs: DeviceRecord[] = [];
    for (let i = 1; i <= 60; i++) recs.push(i <= 20 ? hr(T0 + i * 1000, 0, 0) : hr(T0 + i * 1000, i === 21 ? 300 : 90));
    const s = windowStats(recs, RANGE)!;
    expect(s.hrRecords).toBe(60);
    expect(s.hrValid).toBe(39);
    expect(s.hrValidFraction).toBeCloseTo(39 / 60, 12);
    expect(s.hrMeanBpm).toBe(90);
    expect(s.hrSdBpm).toBe(0);
  });

  it('computes RMSSD within RR records, skipping implausible intervals and >20% jumps', () => {
    // Successive differences 10, −20, 10, 20, −20: RMSSD = sqrt(1400 / 5) = sqrt(280).
    const recs: DeviceRecord[] = [hr(T0 + 1000, 60), rr(T0 + 5000, [1000, 1010, 990, 1000, 1020, 1000])];
    expect(windowStats(recs, RANGE)!.rmssdMs).toBeCloseTo(Math.sqrt(280), 10);
    // An artefact (1000 → 1500, +50%) and a missed beat (2500 ms) add no differences.
    const withArtefacts: DeviceRecord[] = [...recs, rr(T0 + 10_000, [1000, 1500]), rr(T0 + 15_000, [2500, 1000])];
    const s = windowStats(withArtefacts, RANGE)!;
    expect(s.rrDiffs).toBe(5);
    expect(s.rmssdMs).toBeCloseTo(Math.sqrt(280), 10);
    // Fewer than 5 clean differences: no RMSSD.
    expect(windowStats([hr(T0 + 1000, 60), rr(T0 + 5000, [1000, 1010, 1000])], RANGE)!.rmssdMs).toBeNull();
  });

  it('reads cadence through a uint32 wrap of the cumulative count', () => {
    const top = 2 ** 32 - 30;
    const recs: DeviceRecord[] = [steps(T0, top), hr(T0 + 1000, 80)];
    // +60 steps per 30 s: 120 steps/min, wrapping past 2^32 half-way.
    recs.push(steps(T0 + 30_000, (top + 60) >>> 0), steps(T0 + 60_000, (top + 120) >>> 0));
    expect(windowStats(recs, RANGE)!.cadenceSpm).toBeCloseTo(120, 10);
  });

  it('leaves out a counter reset (a backwards jump) instead of reading billions of steps', () => {
    const recs: DeviceRecord[] = [steps(T0, 5000), hr(T0 + 1000, 80), steps(T0 + 30_000, 5050), steps(T0 + 40_000, 3), steps(T0 + 60_000, 43)];
    const s = windowStats(recs, RANGE)!;
    // 50 steps in 30 s and 40 in 20 s over the 50 s covered: 108 steps/min; the reset segment is not covered.
    expect(s.stepsCoverage).toBeCloseTo(50 / 60, 12);
    expect(s.cadenceSpm).toBeCloseTo((90 / 50) * 60, 10);
  });

  it('interpolates the count at the window edges from samples outside it', () => {
    // Samples every 20 s at 60 steps/min, the first 10 s before the window starts.
    const recs: DeviceRecord[] = [hr(T0 + 1000, 80)];
    for (let t = -10_000; t <= 70_000; t += 20_000) recs.push(steps(T0 + t, 1000 + t / 1000));
    recs.sort((a, b) => a.timestampMs - b.timestampMs);
    const s = windowStats(recs, RANGE)!;
    expect(s.cadenceSpm).toBeCloseTo(60, 10);
    // Up to T0+50 s is covered in range; the last in-range sample is at 50 s (70 s is past the end).
    expect(s.stepsCoverage).toBeCloseTo(50 / 60, 12);
  });

  it('returns null for an empty window, and for records only outside the range', () => {
    expect(windowStats([], RANGE)).toBeNull();
    expect(windowStats([hr(T0 - 5000, 80), hr(T0 + 90_000, 80)], RANGE)).toBeNull();
  });

  it('is not empty when the HR readings are all dropouts: HR is missing, not the window', () => {
    const recs = Array.from({ length: 60 }, (_, i) => hr(T0 + (i + 1) * 1000, 0, 0));
    const s = windowStats(recs, RANGE)!;
    expect(s.hrValidFraction).toBe(0);
    expect(s.hrMeanBpm).toBeNull();
    expect(s.cadenceSpm).toBeNull();
  });

  it('accepts records out of time order for the steps baseline', () => {
    const ordered = steadyWindow();
    const shuffled = [...ordered].reverse();
    expect(windowStats(shuffled, RANGE)).toEqual(windowStats(ordered, RANGE));
  });

  it('rejects a bad range naming it', () => {
    expect(() => windowStats([], { startMs: T0, endMs: T0 })).toThrow(/startMs < endMs/);
  });
});

describe('profile resolution', () => {
  it('uses given values, else the history estimate, else the default; HRmax from Tanaka (208 − 0.7·age)', () => {
    const given = resolveProfile({ ...PROFILE, restingHrBpm: 55, hrMaxBpm: 190 });
    expect([given.restingHrBpm, given.restingHrSource, given.hrMaxBpm, given.hrMaxSource]).toEqual([55, 'given', 190, 'given']);
    const est = resolveProfile(PROFILE, 61.5);
    expect([est.restingHrBpm, est.restingHrSource, est.hrMaxBpm, est.hrMaxSource]).toEqual([61.5, 'estimated', 180, 'tanaka']);
    const dflt = resolveProfile(PROFILE, null);
    expect([dflt.restingHrBpm, dflt.restingHrSource]).toEqual([DEFAULT_RESTING_HR_BPM, 'default']);
  });

  it('names the bad field', () => {
    expect(() => resolveProfile({ ...PROFILE, weightKg: Number.NaN })).toThrow(/profile\.weightKg/);
    expect(() => resolveProfile({ ...PROFILE, sex: 'x' as 'male' })).toThrow(/profile\.sex/);
    expect(() => resolveProfile({ ...PROFILE, restingHrBpm: 5 })).toThrow(/profile\.restingHrBpm/);
  });
});

describe('featuresFromStats', () => {
  const profile = resolveProfile({ ...PROFILE, restingHrBpm: 60 });

  it('maps a window and a profile to the feature row', () => {
    const s = windowStats([...steadyWindow(), rr(T0 + 5000, [1000, 1010, 990, 1000, 1020, 1000])], RANGE)!;
    const f = featuresFromStats(s, profile);
    expect(f).toBeInstanceOf(Float32Array);
    expect(f.length).toBe(FEATURE_COUNT);
    const at = (n: (typeof FEATURE_NAMES)[number]) => f[FEATURE_INDEX[n]];
    expect(at('hrMeanBpm')).toBeCloseTo(105, 4);
    expect(at('hrAboveRestBpm')).toBeCloseTo(45, 4);
    // Reserve: (105 − 60) / (Tanaka 180 − 60).
    expect(at('hrReserveFraction')).toBeCloseTo(45 / 120, 6);
    expect(at('hrSdBpm')).toBeCloseTo(5, 5);
    expect(at('cadenceSpm')).toBeCloseTo(120, 4);
    expect(at('cadenceSdSpm')).toBeCloseTo(0, 5);
    expect(at('lnRmssdMs')).toBeCloseTo(Math.log(Math.sqrt(280)), 5);
    expect(at('hrValidFraction')).toBe(1);
    expect([at('ageY'), at('weightKg'), at('heightCm'), at('sexMale')]).toEqual([40, 80, 180, 1]);
    expect(featuresFromStats(s, resolveProfile({ ...PROFILE, sex: 'female', restingHrBpm: 60 }))[FEATURE_INDEX.sexMale]).toBe(0);
  });

  it('imputes HR features at rest when under a quarter of the seconds have valid HR, and says so', () => {
    const recs: DeviceRecord[] = [];
    for (let i = 1; i <= 60; i++) recs.push(hr(T0 + i * 1000, i <= 10 ? 150 : 0, i <= 10 ? 80 : 0));
    const f = featuresFromStats(windowStats(recs, RANGE)!, profile);
    expect(f[FEATURE_INDEX.hrMeanBpm]).toBe(60);
    expect(f[FEATURE_INDEX.hrAboveRestBpm]).toBe(0);
    expect(f[FEATURE_INDEX.hrReserveFraction]).toBe(0);
    expect(f[FEATURE_INDEX.hrSdBpm]).toBe(0);
    expect(f[FEATURE_INDEX.lnRmssdMs]).toBeCloseTo(Math.log(DEFAULT_RMSSD_MS), 6);
    expect(f[FEATURE_INDEX.hrValidFraction]).toBeCloseTo(10 / 60, 6);
    // Missing step counter: cadence 0, not NaN.
    expect(f[FEATURE_INDEX.cadenceSpm]).toBe(0);
    expect(f.every(Number.isFinite)).toBe(true);
  });

  it('keeps measured HR at exactly a quarter valid', () => {
    const recs: DeviceRecord[] = [];
    for (let i = 1; i <= 60; i++) recs.push(hr(T0 + i * 1000, i <= 15 ? 150 : 0, i <= 15 ? 80 : 0));
    expect(featuresFromStats(windowStats(recs, RANGE)!, profile)[FEATURE_INDEX.hrMeanBpm]).toBe(150);
  });

  it('writes into a caller buffer at an offset', () => {
    const out = new Float32Array(3 * FEATURE_COUNT).fill(-1);
    featuresFromStats(windowStats(steadyWindow(), RANGE)!, profile, out, FEATURE_COUNT);
    expect(out[0]).toBe(-1);
    expect(out[FEATURE_COUNT]).toBeCloseTo(105, 4);
    expect(out[2 * FEATURE_COUNT]).toBe(-1);
  });
});

describe('extractFeatures', () => {
  it('is windowStats + featuresFromStats, and null for an empty window', () => {
    const r = extractFeatures(steadyWindow(), RANGE, { ...PROFILE, restingHrBpm: 60 })!;
    expect(r.features[FEATURE_INDEX.hrAboveRestBpm]).toBeCloseTo(45, 4);
    expect(extractFeatures([], RANGE, PROFILE)).toBeNull();
    // Without a resting HR the default is used.
    expect(extractFeatures(steadyWindow(), RANGE, PROFILE)!.features[FEATURE_INDEX.hrAboveRestBpm]).toBeCloseTo(105 - DEFAULT_RESTING_HR_BPM, 4);
  });
});

describe('estimateRestingHr', () => {
  const still = (hrMeanBpm: number, extra: Partial<WindowStats> = {}): WindowStats => ({
    startMs: 0, endMs: 60_000, durationS: 60, hrRecords: 60, hrValid: 60, hrValidFraction: 1, hrMeanBpm, hrSdBpm: 1,
    rmssdMs: null, rrDiffs: 0, cadenceSpm: 0, cadenceSdSpm: 0, stepsCoverage: 1, ...extra,
  });

  it('is the 10th percentile (nearest rank) of still windows’ mean HR', () => {
    // Means 51..150: the 10th of 100 sorted values is 60.
    const history = Array.from({ length: 100 }, (_, i) => still(150 - i));
    expect(estimateRestingHr(history)).toBe(60);
  });

  it('ignores stepping windows and windows with mostly missing HR', () => {
    const history = [
      ...Array.from({ length: 60 }, (_, i) => still(70 + i)),
      ...Array.from({ length: 50 }, () => still(40, { cadenceSpm: 100 })),
      ...Array.from({ length: 50 }, () => still(40, { hrValidFraction: 0.2 })),
    ];
    expect(estimateRestingHr(history)).toBe(75);
  });

  it('needs an hour of still windows', () => {
    expect(estimateRestingHr(Array.from({ length: 59 }, () => still(60)))).toBeNull();
  });
});
