import { describe, expect, it } from 'vitest';
import { CLUSTER_NAMES, assignClusters, makeUsers, tanakaHrMax, type ClusterName, type UserProfile } from '../../device-sim/index.ts';

const many = makeUsers({ count: 500, seed: 11 });
const byCluster = (c: ClusterName) => many.filter((u) => u.cluster === c);
const mean = (us: UserProfile[], f: (u: UserProfile) => number) => us.reduce((s, u) => s + f(u), 0) / us.length;

describe('makeUsers', () => {
  it('is deterministic: same seed, same profiles; another seed, other people', () => {
    const a = makeUsers({ count: 12, seed: 5 });
    expect(JSON.stringify(makeUsers({ count: 12, seed: 5 }))).toBe(JSON.stringify(a));
    expect(makeUsers({ count: 12, seed: 6 }).map((u) => u.weightKg)).not.toEqual(a.map((u) => u.weightKg));
  });

  it('assigns clusters round-robin by default, with consecutive device ids and distinct user ids', () => {
    const us = makeUsers({ count: 7, seed: 1, firstDeviceId: 100 });
    expect(us.map((u) => u.cluster)).toEqual([...CLUSTER_NAMES, CLUSTER_NAMES[0], CLUSTER_NAMES[1]]);
    expect(us.map((u) => u.deviceId)).toEqual([100, 101, 102, 103, 104, 105, 106]);
    expect(new Set(us.map((u) => u.userId)).size).toBe(7);
  });

  it('apportions weighted clusters exactly and interleaves them', () => {
    const a = assignClusters(10, { cyclists: 0.7, 'sedentary-older': 0.3 });
    expect(a.filter((c) => c === 'cyclists')).toHaveLength(7);
    expect(a.filter((c) => c === 'sedentary-older')).toHaveLength(3);
    // Interleaved: the minority cluster appears in the first half too.
    expect(a.slice(0, 5)).toContain('sedentary-older');
    expect(assignClusters(3, ['cyclists'])).toEqual(['cyclists', 'cyclists', 'cyclists']);
  });

  it('names what was wrong with bad input', () => {
    expect(() => makeUsers({ count: 0, seed: 1 })).toThrow(/count/);
    expect(() => makeUsers({ count: 2.5, seed: 1 })).toThrow(/count must be an integer/);
    expect(() => makeUsers({ count: 2, seed: 1, clusters: ['cyclists', 'astronauts' as ClusterName] })).toThrow(/unknown cluster "astronauts"/);
    expect(() => makeUsers({ count: 2, seed: 1, clusters: { cyclists: -1 } })).toThrow(/weight for "cyclists"/);
    expect(() => makeUsers({ count: 2, seed: 1, clusters: [] })).toThrow(/at least one cluster/);
  });

  it('draws profiles inside the specified ranges', () => {
    for (const u of many) {
      expect(u.ageY).toBeGreaterThanOrEqual(18);
      expect(u.ageY).toBeLessThanOrEqual(75);
      expect(u.bmi).toBeCloseTo(u.weightKg / (u.heightCm / 100) ** 2, 1);
      expect(u.restingHrBpm).toBeLessThan(u.hrMaxBpm - 60);
      expect(Math.abs(u.hrMaxBpm - tanakaHrMax(u.ageY))).toBeLessThan(30);
      expect(u.device.ppgNoiseSdBpm).toBeGreaterThanOrEqual(2);
      expect(u.device.ppgNoiseSdBpm).toBeLessThanOrEqual(8);
      expect(u.device.stepsIntervalS).toBeGreaterThanOrEqual(1);
      expect(u.device.stepsIntervalS).toBeLessThanOrEqual(5);
      expect(u.eeTauS).toBeGreaterThanOrEqual(30);
      expect(u.hrTauS).toBeLessThanOrEqual(60);
      expect(u.rmrKcalPerDay).toBeGreaterThan(800);
    }
    // Personal metabolic factor: log-normal, mean about 1, SD about 10%.
    const f = many.map((u) => u.metabolicFactor);
    const fm = f.reduce((s, x) => s + x, 0) / f.length;
    const fsd = Math.sqrt(f.reduce((s, x) => s + (x - fm) ** 2, 0) / f.length);
    expect(fm).toBeGreaterThan(0.98);
    expect(fm).toBeLessThan(1.02);
    expect(fsd).toBeGreaterThan(0.08);
    expect(fsd).toBeLessThan(0.12);
  });

  it('clusters differ as specified: fitness, resting HR, age and BMI orderings', () => {
    const vo2 = (c: ClusterName) => mean(byCluster(c), (u) => u.vo2maxMlKgMin);
    const rhr = (c: ClusterName) => mean(byCluster(c), (u) => u.restingHrBpm);
    expect(vo2('endurance-runners')).toBeGreaterThan(vo2('cyclists'));
    expect(vo2('cyclists')).toBeGreaterThan(vo2('active-young'));
    expect(vo2('active-young')).toBeGreaterThan(vo2('high-bmi-walkers'));
    expect(vo2('high-bmi-walkers')).toBeGreaterThan(vo2('sedentary-older'));
    expect(rhr('endurance-runners')).toBeLessThan(rhr('active-young'));
    expect(rhr('active-young')).toBeLessThan(rhr('sedentary-older'));
    expect(mean(byCluster('sedentary-older'), (u) => u.ageY)).toBeGreaterThan(60);
    expect(Math.min(...byCluster('high-bmi-walkers').map((u) => u.bmi))).toBeGreaterThanOrEqual(29.9);
  });
});
