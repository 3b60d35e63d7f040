/**
 * The BLE central (BleGattSource) on the real noble library with the HCI layer faked (no radio
 * here): discovery by service, connect, subscribe, records from notifications, reconnect after a
 * drop. Also: the guarded import of the real noble fails with a clear error instead of crashing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import fs from 'node:fs';
import {
  BleGattSource,
  BleUnavailableError,
  GATT_UUID,
  encodeHeartRateMeasurement,
  encodeRscMeasurement,
  loadNoble,
  nobleWithBindings,
  type DeviceRecord,
} from '../../firmware-bindings/index.ts';
import { FakeHciBindings, type FakeSensor } from './fake-hci.ts';

const STRAP: FakeSensor = { id: 'c0ffee000001', address: 'c0:ff:ee:00:00:01', localName: 'Strap', services: { '180d': ['2a37', '2a38'] } };
const POD: FakeSensor = { id: 'c0ffee000002', address: 'c0:ff:ee:00:00:02', localName: 'Pod', services: { '1814': ['2a53', '2a54'] } };
const LAMP: FakeSensor = { id: 'c0ffee000003', address: 'c0:ff:ee:00:00:03', localName: 'Lamp', services: { ffe0: ['ffe1'] } };

const sources: BleGattSource[] = [];
afterEach(async () => {
  for (const s of sources.splice(0)) await s.stop();
});

function setup(sensors: FakeSensor[], opts: ConstructorParameters<typeof BleGattSource>[0] = {}) {
  const hci = new FakeHciBindings(sensors);
  let now = 1_750_000_000_000;
  const source = new BleGattSource({ noble: nobleWithBindings(hci), reconnectDelayMs: 10, clock: () => now, ...opts });
  sources.push(source);
  const records: DeviceRecord[] = [];
  source.on('records', (r) => records.push(...r));
  return { hci, source, records, tick: (ms: number) => (now += ms) };
}

describe('BleGattSource on noble with a fake HCI binding', () => {
  it('discovers by service, subscribes to 2A37, and turns notifications into records', async () => {
    const { hci, source, records, tick } = setup([LAMP, STRAP]);
    const connected = once(source, 'connect');
    await source.start();
    const [id, chars] = await connected;
    expect(id).toBe(STRAP.id);
    expect(chars).toEqual(['2a37']);
    expect(hci.log).toContain('startScanning 180d,1814 false');
    expect(hci.log).not.toContain(`connect ${LAMP.id}`); // it advertises neither service
    expect(hci.subscribed).toEqual(new Set([`${STRAP.id}/180d/2a37`]));

    const hr = (bpm: number, rr: number[]) => encodeHeartRateMeasurement({ bpm, sensorContact: 'detected', rrIntervals1024: rr });
    expect(hci.send(STRAP.id, '180d', '2a37', hr(72, [840]))).toBe(true);
    tick(1000);
    hci.send(STRAP.id, '180d', '2a37', hr(74, []));
    expect(records.map((r) => r.type)).toEqual(['heartRate', 'rrIntervals', 'heartRate']);
    expect(records[0]).toMatchObject({ type: 'heartRate', bpm: 72, confidence: 100, seq: 0 });
    expect(records[1]).toMatchObject({ type: 'rrIntervals', intervalsMs: [820], seq: 1 });
    expect(records[2]).toMatchObject({ bpm: 74, seq: 2, timestampMs: records[0].timestampMs + 1000 });
    // every record carries the strap's stable id
    expect(new Set(records.map((r) => r.deviceId)).size).toBe(1);
    expect(source.stats).toMatchObject({ connects: 1, notifications: 2, records: 3, malformed: 0 });
  });

  it('reconnects after the sensor drops and carries on with the same device id, sequence and step total', async () => {
    const { hci, source, records, tick } = setup([POD]);
    const first = once(source, 'connect');
    await source.start();
    await first;
    const rsc = (cadence: number) => encodeRscMeasurement({ speedMps: 2, cadenceSpm: cadence, running: true });
    hci.send(POD.id, '1814', '2a53', rsc(0));
    tick(1000);
    hci.send(POD.id, '1814', '2a53', rsc(180));
    expect(records.at(-1)).toMatchObject({ type: 'steps', total: 3, seq: 1 });

    const dropped = once(source, 'disconnect');
    const again = once(source, 'connect');
    hci.drop(POD.id);
    const [droppedId, reason] = await dropped;
    expect(droppedId).toBe(POD.id);
    expect(reason).toBe('connection timeout');
    // notifications while down go nowhere
    expect(hci.send(POD.id, '1814', '2a53', rsc(180))).toBe(false);
    await again;
    expect(hci.log.filter((l) => l.startsWith('startScanning')).length).toBe(2);
    expect(hci.log.filter((l) => l === `connect ${POD.id}`).length).toBe(2);
    tick(1000);
    expect(hci.send(POD.id, '1814', '2a53', rsc(120))).toBe(true);
    expect(records.at(-1)).toMatchObject({ type: 'steps', total: 5, seq: 2, deviceId: records[0].deviceId });
    expect(source.stats).toMatchObject({ connects: 2, disconnects: 1 });
  });

  it('connects to several sensors when allowed, and counts a malformed notification without dropping the link', async () => {
    const { hci, source, records } = setup([STRAP, POD], { maxDevices: 2 });
    const ids = new Set<string>();
    const both = new Promise<void>((resolve) =>
      source.on('connect', (id) => {
        ids.add(id);
        if (ids.size === 2) resolve();
      }),
    );
    const malformed: string[] = [];
    source.on('malformed', (e) => malformed.push(e.message));
    await source.start();
    await both;
    hci.send(STRAP.id, '180d', '2a37', Uint8Array.from([0x10, 0x48, 0x01]));
    hci.send(POD.id, '1814', '2a53', encodeRscMeasurement({ speedMps: 1, cadenceSpm: 100, running: false }));
    expect(malformed).toEqual([expect.stringMatching(/^heartRateMeasurement: RR-Interval field has 1 byte/)]);
    expect(source.stats.malformed).toBe(1);
    expect(source.mapperFor(STRAP.id)!.stats.malformed.heartRateMeasurement).toBe(1);
    expect(records.map((r) => r.type)).toEqual(['steps']);
    expect(hci.connected).toEqual(new Set([STRAP.id, POD.id]));
  });

  // Only meaningful where there is no Bluetooth adapter (this machine and CI).
  it.skipIf(fs.existsSync('/sys/class/bluetooth'))('loads the real noble only on use, and fails with a clear error where there is no radio', async () => {
    // This machine has no Bluetooth adapter, so the import itself throws (edge-stack.md §5).
    await expect(loadNoble()).rejects.toBeInstanceOf(BleUnavailableError);
    await expect(loadNoble()).rejects.toThrow(/Bluetooth LE is unavailable: loading @abandonware\/noble failed/);
    expect(GATT_UUID.heartRateMeasurement).toBe('2a37');
  });
});
