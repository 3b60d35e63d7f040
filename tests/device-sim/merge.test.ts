import { describe, expect, it } from 'vitest';
import { makeUsers, mergeByTime, simulateDevice, simulateMany } from '../../device-sim/index.ts';
import type { DeviceRecord } from '../../firmware-bindings/index.ts';

const users = makeUsers({ count: 6, seed: 2, firstDeviceId: 500 });
const opts = { startMs: Date.UTC(2026, 4, 1, 9), durationS: 600, seed: 3 };

describe('simulateMany', () => {
  it('merges all devices into one stream ordered by time, then device id', () => {
    const all = [...simulateMany(users, opts)];
    const outOfOrder = all.findIndex((b, i) => {
      const a = all[i - 1];
      return a !== undefined && !(a.timestampMs < b.timestampMs || (a.timestampMs === b.timestampMs && a.deviceId <= b.deviceId));
    });
    expect(outOfOrder).toBe(-1);
    expect(all.length).toBeGreaterThan(6 * 600);
    expect(new Set(all.map((r) => r.deviceId))).toEqual(new Set(users.map((u) => u.deviceId)));
  });

  it('keeps each device\'s own stream intact (same records, same order, seq increasing)', () => {
    const all = [...simulateMany(users, opts)];
    for (const u of users) {
      const mine = all.filter((r) => r.deviceId === u.deviceId);
      expect(JSON.stringify(mine)).toBe(JSON.stringify([...simulateDevice(u, opts)]));
      expect(mine.findIndex((r, i) => i > 0 && r.seq <= mine[i - 1]!.seq)).toBe(-1);
    }
  });

  it('refuses two users with one device id', () => {
    const clash = [users[0]!, { ...users[1]!, deviceId: users[0]!.deviceId }];
    expect(() => simulateMany(clash, opts)).toThrow(/share deviceId 500/);
  });

  it('mergeByTime breaks ties stably and handles empty sources', () => {
    const rec = (deviceId: number, seq: number, timestampMs: number): DeviceRecord => ({ type: 'steps', deviceId, seq, timestampMs, total: 0 });
    const merged = [...mergeByTime([[rec(2, 0, 10), rec(2, 1, 10)], [], [rec(1, 0, 10), rec(1, 1, 20)], [rec(3, 0, 5)]])];
    expect(merged.map((r) => `${r.deviceId}:${r.seq}`)).toEqual(['3:0', '1:0', '2:0', '2:1', '1:1']);
  });
});
