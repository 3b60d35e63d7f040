/**
 * A stand-in for noble's HCI bindings: the one thing in the BLE path that cannot exist here (there is
 * no Bluetooth radio). It plays one or more sensors offering Heart Rate / RSC services, answers
 * noble's GATT requests the way the HCI bindings do (events, asynchronously), and lets a test push
 * notifications and drop the link. Everything above it is the real noble (lib/noble.js).
 */
import { EventEmitter } from 'node:events';

export interface FakeSensor {
  id: string;
  address: string;
  localName: string;
  /** service uuid -> characteristic uuids */
  services: Record<string, string[]>;
}

export class FakeHciBindings extends EventEmitter {
  readonly log: string[] = [];
  scanning = false;
  readonly connected = new Set<string>();
  /** characteristic keys ("id/svc/char") that have notifications on */
  readonly subscribed = new Set<string>();
  /** Sensors that advertise when a scan starts. */
  advertising: FakeSensor[] = [];

  constructor(private readonly sensors: FakeSensor[]) {
    super();
    this.advertising = [...sensors];
  }

  private later(event: string, ...args: unknown[]): void {
    setImmediate(() => this.emit(event, ...args));
  }

  private sensor(id: string): FakeSensor {
    const s = this.sensors.find((x) => x.id === id);
    if (!s) throw new Error(`fake: unknown peripheral ${id}`);
    return s;
  }

  init(): void {
    this.log.push('init');
    this.later('stateChange', 'poweredOn');
  }

  setScanParameters(): void {}

  startScanning(serviceUuids: string[], allowDuplicates: boolean): void {
    this.log.push(`startScanning ${serviceUuids.join(',')} ${allowDuplicates}`);
    this.scanning = true;
    this.later('scanStart', !allowDuplicates);
    for (const s of this.advertising) {
      const offered = Object.keys(s.services);
      if (serviceUuids.length > 0 && !offered.some((u) => serviceUuids.includes(u))) continue;
      const adv = { localName: s.localName, serviceUuids: offered, serviceData: [], manufacturerData: undefined, txPowerLevel: undefined, serviceSolicitationUuids: [] };
      this.later('discover', s.id, s.address, 'random', true, adv, -60, true);
    }
  }

  stopScanning(): void {
    this.log.push('stopScanning');
    this.scanning = false;
    this.later('scanStop');
  }

  connect(id: string): void {
    this.log.push(`connect ${id}`);
    this.sensor(id);
    this.connected.add(id);
    this.later('connect', id, null);
  }

  cancelConnect(): void {}

  disconnect(id: string): void {
    this.log.push(`disconnect ${id}`);
    this.drop(id, 'local host terminated');
  }

  /** The sensor goes away (out of range, battery): noble sees a disconnect event. */
  drop(id: string, reason = 'connection timeout'): void {
    this.connected.delete(id);
    for (const k of [...this.subscribed]) if (k.startsWith(`${id}/`)) this.subscribed.delete(k);
    this.later('disconnect', id, reason);
  }

  discoverServices(id: string, uuids: string[]): void {
    const offered = Object.keys(this.sensor(id).services);
    this.later('servicesDiscover', id, uuids.length ? offered.filter((u) => uuids.includes(u)) : offered);
  }

  discoverCharacteristics(id: string, service: string, uuids: string[]): void {
    const chars = this.sensor(id).services[service] ?? [];
    const found = chars.filter((c) => uuids.length === 0 || uuids.includes(c)).map((uuid) => ({ uuid, properties: ['notify'] }));
    this.later('characteristicsDiscover', id, service, found);
  }

  notify(id: string, service: string, characteristic: string, on: boolean): void {
    this.log.push(`notify ${id}/${service}/${characteristic} ${on}`);
    if (on) this.subscribed.add(`${id}/${service}/${characteristic}`);
    else this.subscribed.delete(`${id}/${service}/${characteristic}`);
    this.later('notify', id, service, characteristic, on);
  }

  /** The sensor notifies a value; dropped unless the central subscribed (as a real sensor would). */
  send(id: string, service: string, characteristic: string, data: Uint8Array): boolean {
    if (!this.connected.has(id) || !this.subscribed.has(`${id}/${service}/${characteristic}`)) return false;
    this.emit('read', id, service, characteristic, Buffer.from(data), true);
    return true;
  }

  updateRssi(): void {}
  reset(): void {}
}
