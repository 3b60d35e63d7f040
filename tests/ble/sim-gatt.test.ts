/**
 * device-sim's GATT payloads, decoded and mapped by firmware-bindings: the mapping must give back what
 * the simulated wrist device counted (steps exactly, heart rate to a whole bpm, RR intervals to the ms).
 */
import { describe, expect, it } from 'vitest';
import { GattRecordMapper, decodeHeartRateMeasurement, type DeviceRecord } from '../../firmware-bindings/index.ts';
import { gattNotifications, makeUsers, simulateTicks, type SimTick } from '../../device-sim/index.ts';

const START = Date.UTC(2026, 10, 2, 7, 0, 0);

describe('device-sim GATT notifications through GattRecordMapper', () => {
  const [user] = makeUsers({ count: 1, seed: 11, clusters: ['endurance-runners'] });
  const ticks: SimTick[] = [
    ...simulateTicks(user, {
      startMs: START,
      durationS: 240,
      seed: 5,
      schedule: [
        { activity: 'walking', startS: 0, durationS: 80, speedMpm: 90, labelled: false },
        { activity: 'running', startS: 80, durationS: 100, speedMpm: 230, labelled: false },
        { activity: 'rest', startS: 180, durationS: 60, labelled: false },
      ],
    }),
  ];
  const notes = [...gattNotifications(ticks, { user, energyExpended: true })];
  const mapper = new GattRecordMapper({ deviceId: user.deviceId });
  const records: DeviceRecord[] = notes.flatMap((n) => mapper.notification(n.characteristic, n.data, n.timestampMs));

  it('every payload decodes and fits a default ATT MTU', () => {
    expect(mapper.stats.malformed).toEqual({ heartRateMeasurement: 0, rscMeasurement: 0 });
    expect(Math.max(...notes.map((n) => n.data.length))).toBeLessThanOrEqual(20);
    expect(notes.filter((n) => n.characteristic === '2a53').length).toBe(ticks.length + 1);
  });

  it('integrating the cadences gives back the device step counter exactly', () => {
    const steps = records.filter((r) => r.type === 'steps');
    const last = ticks.at(-1)!.reading.stepsTotal;
    expect(last).toBeGreaterThan(400); // walking and running happened
    expect(steps.at(-1)!.total).toBe(last);
    // and at every second on the way, never ahead of the device
    for (const t of ticks) {
      const rec = steps.find((s) => s.timestampMs === t.startMs + 1000)!;
      expect(rec.total).toBeLessThanOrEqual(t.reading.stepsTotal);
    }
    const running = notes.filter((n) => n.characteristic === '2a53' && (n.data[0] & 0x04) !== 0);
    expect(running.length).toBe(100);
  });

  it('heart rate, contact and RR intervals match the wrist reading', () => {
    const hr = records.filter((r) => r.type === 'heartRate');
    expect(hr).toHaveLength(ticks.length);
    ticks.forEach((t, i) => {
      expect(hr[i].bpm).toBe(Math.round(t.reading.bpm));
      expect(hr[i].confidence).toBe(t.reading.dropout ? 0 : 100);
    });
    const rr = records.flatMap((r) => (r.type === 'rrIntervals' ? r.intervalsMs : []));
    expect(rr).toEqual(ticks.flatMap((t) => t.reading.rrMs));
    // energy expended is carried in the payload (cumulative kJ) but maps to no record
    const lastHr = decodeHeartRateMeasurement(notes.filter((n) => n.characteristic === '2a37').at(-1)!.data);
    const kj = ticks.reduce((s, t) => s + t.truth.kcalPerMin / 60, 0) * 4.184;
    expect(lastHr.energyExpendedKj).toBe(Math.floor(kj));
    expect(records.some((r) => r.type === 'energyLabel')).toBe(false);
  });
});
