import { describe, expect, it } from 'vitest';
import { checkSchedule, makeSchedule, makeUsers, simulateTruth, type Bout } from '../../device-sim/index.ts';

const users = makeUsers({ count: 10, seed: 8 });
const DAY = Date.UTC(2026, 2, 2);

function contiguous(bouts: Bout[], durationS: number): void {
  let t = 0;
  for (const b of bouts) {
    expect(b.startS).toBe(t);
    expect(b.durationS).toBeGreaterThan(0);
    t += b.durationS;
  }
  expect(t).toBe(durationS);
}

describe('schedules', () => {
  it('day mode covers the window contiguously, sleeps at night and is awake at noon', () => {
    for (const u of users) {
      const bouts = makeSchedule(u, { startMs: DAY, durationS: 86_400, seed: 1, mode: 'day' });
      contiguous(bouts, 86_400);
      const at = (hour: number) => bouts.find((b) => b.startS <= hour * 3600 && hour * 3600 < b.startS + b.durationS)!;
      expect(at(2).activity).toBe('sleep');
      expect(at(12).activity).not.toBe('sleep');
    }
  });

  it('plans the same day the same way whatever window is simulated', () => {
    const u = users[2]!;
    const full = makeSchedule(u, { startMs: DAY, durationS: 86_400, seed: 1, mode: 'day' });
    const afternoon = makeSchedule(u, { startMs: DAY + 12 * 3_600_000, durationS: 6 * 3600, seed: 1, mode: 'day' });
    const activityAt = (bouts: Bout[], s: number) => bouts.find((b) => b.startS <= s && s < b.startS + b.durationS)!.activity;
    for (let s = 0; s < 6 * 3600; s += 97) expect(activityAt(afternoon, s)).toBe(activityAt(full, 12 * 3600 + s));
  });

  it('gives each cluster its activity mix: cyclists ride without steps, runners run, walkers walk', () => {
    const seconds: Record<string, Record<string, number>> = {};
    for (const u of makeUsers({ count: 15, seed: 2 })) {
      for (let day = 0; day < 3; day++) {
        for (const b of makeSchedule(u, { startMs: DAY + day * 86_400_000, durationS: 86_400, seed: 4, mode: 'day' })) {
          const c = (seconds[u.cluster] ??= {});
          c[b.activity] = (c[b.activity] ?? 0) + b.durationS;
        }
      }
    }
    expect(seconds['cyclists']!['cycling'] ?? 0).toBeGreaterThan(3 * 3600);
    expect(seconds['cyclists']!['running'] ?? 0).toBe(0);
    expect(seconds['endurance-runners']!['running'] ?? 0).toBeGreaterThan(3 * 3600);
    expect(seconds['sedentary-older']!['running'] ?? 0).toBe(0);
    expect(seconds['high-bmi-walkers']!['walking'] ?? 0).toBeGreaterThan(seconds['cyclists']!['walking'] ?? 0);
  });

  it('session mode starts with rest and fills a short run with the cluster\'s sessions', () => {
    for (const u of users) {
      const bouts = makeSchedule(u, { startMs: DAY, durationS: 1800, seed: 3, mode: 'session' });
      contiguous(bouts, 1800);
      expect(bouts[0]!.activity).toBe('rest');
      expect(bouts.some((b) => b.activity !== 'rest' && b.activity !== 'desk' && b.activity !== 'sleep')).toBe(true);
    }
  });

  it('uses 6 h as the default switch between session and day mode', () => {
    const u = users[0]!;
    const short = simulateTruth(u, { startMs: DAY, durationS: 600, seed: 1 });
    expect(short.bouts[0]!.activity).toBe('rest');
    const long = simulateTruth(u, { startMs: DAY, durationS: 6 * 3600, seed: 1 });
    expect(long.bouts[0]!.activity).toBe('sleep');
  });

  it('rejects a bad custom schedule, naming the bout and field', () => {
    const ok: Bout[] = [
      { activity: 'rest', startS: 0, durationS: 60, labelled: false },
      { activity: 'walking', startS: 60, durationS: 60, speedMpm: 80, labelled: false },
    ];
    expect(checkSchedule(ok, 120)).toHaveLength(2);
    expect(() => checkSchedule(ok, 200)).toThrow(/covers 120 s but durationS is 200/);
    expect(() => checkSchedule([ok[0]!, { ...ok[1]!, startS: 61 }], 121)).toThrow(/schedule\[1\]\.startS must be 60/);
    expect(() => checkSchedule([ok[0]!, { ...ok[1]!, speedMpm: undefined }], 120)).toThrow(/schedule\[1\]\.speedMpm/);
    expect(() => checkSchedule([{ ...ok[0]!, activity: 'swimming' as 'rest' }], 60)).toThrow(/schedule\[0\]\.activity: unknown activity "swimming"/);
    expect(() => checkSchedule([{ ...ok[0]!, labelled: true }], 60)).toThrow(/schedule\[0\]\.labelSource/);
    expect(() => simulateTruth(users[0]!, { startMs: 0, durationS: 100, seed: 1, schedule: ok })).toThrow(/durationS is 100/);
  });
});
