import { describe, expect, it } from 'vitest';
import {
  activityCode,
  hrFromVo2Reserve,
  makeUsers,
  simulateTruth,
  vo2ReserveFraction,
  type Bout,
  type DeviceTruth,
} from '../../device-sim/index.ts';

const users = makeUsers({ count: 10, seed: 3 });
const DAY = Date.UTC(2026, 0, 5);

function avg(a: ArrayLike<number>, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += a[i]!;
  return s / (to - from);
}

function stepTest(u: (typeof users)[number], exercise: Bout, restS = 600): DeviceTruth {
  const schedule: Bout[] = [
    { activity: 'rest', startS: 0, durationS: restS, labelled: false },
    { ...exercise, startS: restS },
  ];
  return simulateTruth(u, { startMs: DAY, durationS: restS + exercise.durationS, seed: 1, schedule });
}

describe('physiology (ground truth)', () => {
  it('keeps HR between (sleeping) rest and HRmax over a whole day, for every cluster', () => {
    for (const u of users.slice(0, 5)) {
      const t = simulateTruth(u, { startMs: DAY, durationS: 86_400, seed: 2 });
      let min = Infinity;
      let max = -Infinity;
      for (const hr of t.hrBpm) {
        min = Math.min(min, hr);
        max = Math.max(max, hr);
      }
      expect(max).toBeLessThanOrEqual(u.hrMaxBpm + 1e-3);
      expect(min).toBeGreaterThanOrEqual(u.restingHrBpm - 25 - 1e-3);
      // Awake rest sits near the resting HR; sleep below it.
      const sums = { rest: [0, 0], sleep: [0, 0] };
      for (let i = 0; i < t.durationS; i++) {
        const a = t.activity[i] === activityCode('rest') ? sums.rest : t.activity[i] === activityCode('sleep') ? sums.sleep : null;
        if (a) {
          a[0] += t.hrBpm[i]!;
          a[1]++;
        }
      }
      const meanOf = (a: number[]) => a[0]! / a[1]!;
      const restSecs = sums.rest;
      const sleepSecs = sums.sleep;
      expect(Math.abs(meanOf(restSecs) - u.restingHrBpm)).toBeLessThan(8);
      expect(meanOf(sleepSecs)).toBeLessThan(meanOf(restSecs));
    }
  });

  it('burns the Mifflin–St Jeor RMR/1440 at quiet rest (times the personal factor)', () => {
    for (const u of users) {
      const t = simulateTruth(u, { startMs: DAY, durationS: 600, seed: 4, schedule: [{ activity: 'rest', startS: 0, durationS: 600, labelled: false }] });
      const ee = avg(t.kcalPerMin, 0, 600);
      expect(ee / ((u.rmrKcalPerDay / 1440) * u.metabolicFactor)).toBeCloseTo(1, 3);
      // Without knowing the factor, within the factor's spread.
      expect(Math.abs(ee / (u.rmrKcalPerDay / 1440) - 1)).toBeLessThan(0.35);
    }
  });

  it('costs more running than walking, and more walking uphill than on the flat', () => {
    for (const u of users.slice(0, 5)) {
      const ee = (b: Omit<Bout, 'startS'>) => {
        const t = stepTest(u, { ...b, startS: 0 }, 60);
        return avg(t.kcalPerMin, 60 + 400, 60 + b.durationS);
      };
      const walk = ee({ activity: 'walking', durationS: 600, speedMpm: 80, grade: 0, labelled: false });
      const hill = ee({ activity: 'walking', durationS: 600, speedMpm: 80, grade: 0.05, labelled: false });
      const run = ee({ activity: 'running', durationS: 600, speedMpm: 150, grade: 0, labelled: false });
      expect(hill).toBeGreaterThan(walk * 1.3);
      expect(run).toBeGreaterThan(walk * 1.5);
      // ACSM walking at 80 m/min on the flat: net 8 ml/kg/min above the person's rest.
      const expected = ((u.vo2RestMlKgMin + 8) * u.weightKg * 5 * u.metabolicFactor) / 1000;
      expect(walk / expected).toBeCloseTo(1, 2);
    }
  });

  it('raises HR toward the Swain steady state with a first-order time constant of tens of seconds', () => {
    for (const u of users) {
      const t = stepTest(u, { activity: 'walking', startS: 0, durationS: 600, speedMpm: 90, grade: 0.02, labelled: false });
      const before = avg(t.hrBpm, 300, 600);
      const steady = avg(t.hrBpm, 600 + 400, 600 + 600);
      const vo2 = u.vo2RestMlKgMin + 0.1 * 90 + 1.8 * 90 * 0.02;
      const predicted = hrFromVo2Reserve(vo2ReserveFraction(vo2, u.vo2RestMlKgMin, u.vo2maxMlKgMin), u.restingHrBpm, u.hrMaxBpm);
      // Steady state within a few bpm of %HRR = %VO2R, allowing for wander, day shift and a little drift.
      expect(Math.abs(steady - predicted)).toBeLessThan(12);
      let t63 = -1;
      for (let i = 600; i < 1200; i++) {
        if (t.hrBpm[i]! - before >= 0.63 * (steady - before)) {
          t63 = i - 600;
          break;
        }
      }
      // Fast vagal part plus a 30–60 s slow part: 63% of the rise comes after roughly 10–60 s.
      expect(t63).toBeGreaterThanOrEqual(8);
      expect(t63).toBeLessThanOrEqual(70);
      // And HR is still clearly below steady state after 5 s (no instant jump).
      expect(t.hrBpm[605]! - before).toBeLessThan(0.5 * (steady - before));
    }
  });

  it('lets EE follow its target with its own time constant (30–60 s)', () => {
    const u = users[1]!;
    const t = stepTest(u, { activity: 'running', startS: 0, durationS: 600, speedMpm: 160, grade: 0, labelled: false });
    const rest = t.kcalPerMin[599]!;
    const steady = t.kcalPerMin[1199]!;
    const frac = (t.kcalPerMin[600 + Math.round(u.eeTauS) - 1]! - rest) / (steady - rest);
    expect(frac).toBeGreaterThan(0.58);
    expect(frac).toBeLessThan(0.68);
  });

  it('drifts HR upward during an hour of steady cycling (cardiac drift), with no steps', () => {
    const u = users[3]!;
    const t = stepTest(u, { activity: 'cycling', startS: 0, durationS: 3600, vo2rFraction: 0.65, labelled: false }, 300);
    const early = avg(t.hrBpm, 300 + 300, 300 + 600);
    const late = avg(t.hrBpm, 300 + 3300, 300 + 3600);
    expect(late - early).toBeGreaterThan(5);
    expect(late - early).toBeLessThan(20);
    expect(Math.max(...t.cadenceSpm)).toBe(0);
    expect(avg(t.kcalPerMin, 600, 3900)).toBeGreaterThan(5 * avg(t.kcalPerMin, 0, 300));
  });

  it('derives walking cadence from speed and step length', () => {
    const u = users[0]!;
    const t = stepTest(u, { activity: 'walking', startS: 0, durationS: 120, speedMpm: 80, grade: 0, labelled: false }, 60);
    const stepLen = (u.sex === 'male' ? 0.415 : 0.413) * (u.heightCm / 100);
    expect(avg(t.cadenceSpm, 60, 180)).toBeCloseTo(80 / stepLen, 0);
    expect(avg(t.cadenceSpm, 0, 60)).toBe(0);
  });
});
