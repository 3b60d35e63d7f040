/**
 * A Bluetooth LE central on @abandonware/noble: finds sensors advertising the Heart Rate (0x180D) or
 * Running Speed and Cadence (0x1814) service, connects, subscribes to 0x2A37 / 0x2A53, turns every
 * notification into DeviceRecords (gatt-records.ts), and when a sensor drops, scans for it again.
 *
 * noble's default export opens an HCI socket while it is being imported and throws where there is
 * no adapter (shared/notes/edge-stack.md §5), so it is only ever loaded by loadNoble(), on use.
 * Anything that looks like noble can be passed in instead, e.g. nobleWithBindings(fakeBindings).
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { DeviceRecord } from '../records.ts';
import { GATT_UUID, GattError } from './gatt-error.ts';
import { GattRecordMapper } from './gatt-records.ts';

/* The parts of noble this file uses, typed structurally so the real module and a fake both fit. */
type Listener = (...args: any[]) => void;
interface Emitterish {
  on(event: string, listener: Listener): unknown;
  once(event: string, listener: Listener): unknown;
  removeListener(event: string, listener: Listener): unknown;
}
export interface NobleLike extends Emitterish {
  readonly state: string;
  startScanning(serviceUuids: string[], allowDuplicates: boolean, callback?: (error?: Error | null) => void): void;
  stopScanning(callback?: () => void): void;
}
export interface NoblePeripheral extends Emitterish {
  readonly id: string;
  readonly address: string;
  readonly advertisement: { localName?: string; serviceUuids?: string[] };
  readonly state: string;
  connectAsync(): Promise<void>;
  disconnectAsync(): Promise<void>;
  discoverServicesAsync(uuids: string[]): Promise<NobleService[]>;
}
export interface NobleService {
  readonly uuid: string;
  discoverCharacteristicsAsync(uuids: string[]): Promise<NobleCharacteristic[]>;
}
export interface NobleCharacteristic extends Emitterish {
  readonly uuid: string;
  subscribeAsync(): Promise<void>;
}

/** Thrown when noble cannot be loaded: no adapter, no HCI socket, or its native binding missing. */
export class BleUnavailableError extends Error {
  override readonly name = 'BleUnavailableError';
}

/** Loads the real noble (guarded: it throws during import without a radio). */
export async function loadNoble(): Promise<NobleLike> {
  try {
    const mod = (await import('@abandonware/noble')) as unknown as { default?: unknown };
    return (mod.default ?? mod) as NobleLike;
  } catch (e) {
    throw new BleUnavailableError(
      `Bluetooth LE is unavailable: loading @abandonware/noble failed (${(e as Error).message}). ` +
        'It needs a Bluetooth adapter the process may open (HCI socket) and its native binding.',
    );
  }
}

/** noble on caller-supplied bindings (no native code): a fake in tests, or noble's websocket bindings. */
export function nobleWithBindings(bindings: unknown): NobleLike {
  const make = createRequire(import.meta.url)('@abandonware/noble/with-bindings') as (b: unknown) => NobleLike;
  return make(bindings);
}

export interface BleGattSourceOptions {
  /** A noble instance; default: the real one, loaded by start(). */
  noble?: NobleLike;
  /** Services to scan for (default 180d and 1814). */
  services?: string[];
  /** Which advertisers to connect to (default: any that offers a wanted service). */
  filter?: (peripheral: NoblePeripheral) => boolean;
  /** Sensors connected at once (default 1). */
  maxDevices?: number;
  /** Wire device id for a sensor (default: FNV-1a of its address, or of its noble id without one). */
  deviceIdFor?: (peripheral: NoblePeripheral) => number;
  /** Wait before scanning again after a drop (default 1000 ms). */
  reconnectDelayMs?: number;
  /** Timestamp source for notifications (default Date.now). */
  clock?: () => number;
  unknownContactConfidence?: number;
  maxGapMs?: number;
}

export interface BleGattSourceEvents {
  records: [records: DeviceRecord[], peripheralId: string];
  connect: [peripheralId: string, characteristics: string[]];
  disconnect: [peripheralId: string, reason: string];
  scanning: [];
  malformed: [error: GattError, peripheralId: string];
  error: [error: Error];
}

export interface BleGattSourceStats {
  connects: number;
  disconnects: number;
  notifications: number;
  malformed: number;
  records: number;
}

const WANTED_CHARACTERISTICS = [GATT_UUID.heartRateMeasurement, GATT_UUID.rscMeasurement];

interface Link {
  peripheral: NoblePeripheral;
  mapper: GattRecordMapper;
  subscriptions: Array<{ characteristic: NobleCharacteristic; listener: Listener }>;
  onDisconnect: Listener;
}

export class BleGattSource extends EventEmitter<BleGattSourceEvents> {
  readonly stats: BleGattSourceStats = { connects: 0, disconnects: 0, notifications: 0, malformed: 0, records: 0 };
  private noble: NobleLike | null = null;
  private readonly services: string[];
  private readonly maxDevices: number;
  private readonly clock: () => number;
  /** Per sensor, kept across reconnects so sequence numbers and the step total carry on. */
  private readonly mappers = new Map<string, GattRecordMapper>();
  private readonly links = new Map<string, Link>();
  private readonly connecting = new Set<string>();
  private scanning = false;
  private stopped = true;
  private rescanTimer: NodeJS.Timeout | null = null;
  private readonly onStateChange = (state: string): void => this.stateChanged(state);
  private readonly onDiscover = (p: NoblePeripheral): void => void this.discovered(p);

  constructor(private readonly opts: BleGattSourceOptions = {}) {
    super();
    this.services = (opts.services ?? [GATT_UUID.heartRateService, GATT_UUID.runningSpeedAndCadenceService]).map((u) => u.toLowerCase());
    this.maxDevices = opts.maxDevices ?? 1;
    this.clock = opts.clock ?? Date.now;
  }

  /** Loads noble if needed and scans as soon as the adapter is powered on. */
  async start(): Promise<void> {
    this.stopped = false;
    const noble = this.opts.noble ?? (await loadNoble());
    this.noble = noble;
    noble.on('stateChange', this.onStateChange);
    noble.on('discover', this.onDiscover);
    // Reading state initialises noble's bindings; stateChange follows when the adapter reports.
    if (noble.state === 'poweredOn') this.scan();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.rescanTimer) clearTimeout(this.rescanTimer);
    this.rescanTimer = null;
    const noble = this.noble;
    if (noble) {
      noble.removeListener('stateChange', this.onStateChange);
      noble.removeListener('discover', this.onDiscover);
      if (this.scanning) noble.stopScanning();
    }
    this.scanning = false;
    for (const link of [...this.links.values()]) {
      this.unlink(link);
      await link.peripheral.disconnectAsync().catch(() => undefined);
    }
  }

  /** The mapper (and so the counters) of a sensor seen so far. */
  mapperFor(peripheralId: string): GattRecordMapper | undefined {
    return this.mappers.get(peripheralId);
  }

  private stateChanged(state: string): void {
    if (state === 'poweredOn') this.scan();
    else this.scanning = false;
  }

  private scan(): void {
    if (this.stopped || this.scanning || this.links.size + this.connecting.size >= this.maxDevices) return;
    this.scanning = true;
    this.noble!.startScanning(this.services, false, (err) => {
      if (err) {
        this.scanning = false;
        this.emit('error', err);
      }
    });
    this.emit('scanning');
  }

  private async discovered(p: NoblePeripheral): Promise<void> {
    if (this.stopped || this.links.has(p.id) || this.connecting.has(p.id)) return;
    if (this.links.size + this.connecting.size >= this.maxDevices) return;
    if (this.opts.filter && !this.opts.filter(p)) return;
    this.connecting.add(p.id);
    if (this.links.size + this.connecting.size >= this.maxDevices && this.scanning) {
      // Many controllers cannot connect while they scan.
      this.scanning = false;
      this.noble!.stopScanning();
    }
    try {
      await this.connect(p);
    } catch (e) {
      this.emit('error', new Error(`BLE sensor ${p.address || p.id}: ${(e as Error).message}`));
      const link = this.links.get(p.id);
      if (link) this.unlink(link);
      await p.disconnectAsync().catch(() => undefined);
      this.scheduleRescan();
    } finally {
      this.connecting.delete(p.id);
    }
  }

  private async connect(p: NoblePeripheral): Promise<void> {
    await p.connectAsync();
    let mapper = this.mappers.get(p.id);
    if (!mapper) {
      mapper = new GattRecordMapper({
        deviceId: (this.opts.deviceIdFor ?? defaultDeviceId)(p),
        unknownContactConfidence: this.opts.unknownContactConfidence,
        maxGapMs: this.opts.maxGapMs,
        onError: (err) => {
          this.stats.malformed++;
          this.emit('malformed', err, p.id);
        },
      });
      this.mappers.set(p.id, mapper);
    }
    const link: Link = { peripheral: p, mapper, subscriptions: [], onDisconnect: (reason: unknown) => this.dropped(link, reason) };
    this.links.set(p.id, link);
    p.once('disconnect', link.onDisconnect);
    const services = await p.discoverServicesAsync(this.services);
    const subscribed: string[] = [];
    for (const s of services) {
      for (const c of await s.discoverCharacteristicsAsync(WANTED_CHARACTERISTICS)) {
        const uuid = c.uuid.toLowerCase();
        if (!(WANTED_CHARACTERISTICS as readonly string[]).includes(uuid)) continue;
        const listener = (data: Buffer): void => this.notified(link, uuid, data);
        c.on('data', listener);
        link.subscriptions.push({ characteristic: c, listener });
        await c.subscribeAsync();
        subscribed.push(uuid);
      }
    }
    if (subscribed.length === 0) throw new Error(`offers none of ${WANTED_CHARACTERISTICS.join(', ')}`);
    this.stats.connects++;
    this.emit('connect', p.id, subscribed);
    this.scan();
  }

  private notified(link: Link, uuid: string, data: Buffer): void {
    if (this.links.get(link.peripheral.id) !== link) return;
    this.stats.notifications++;
    const records = link.mapper.notification(uuid, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), this.clock());
    if (records.length === 0) return;
    this.stats.records += records.length;
    this.emit('records', records, link.peripheral.id);
  }

  private dropped(link: Link, reason: unknown): void {
    if (this.links.get(link.peripheral.id) !== link) return;
    this.unlink(link);
    this.stats.disconnects++;
    this.emit('disconnect', link.peripheral.id, reason === undefined ? 'disconnected' : String(reason));
    this.scheduleRescan();
  }

  private unlink(link: Link): void {
    this.links.delete(link.peripheral.id);
    link.peripheral.removeListener('disconnect', link.onDisconnect);
    for (const { characteristic, listener } of link.subscriptions) characteristic.removeListener('data', listener);
    link.subscriptions.length = 0;
  }

  private scheduleRescan(): void {
    if (this.stopped || this.rescanTimer) return;
    this.rescanTimer = setTimeout(() => {
      this.rescanTimer = null;
      this.scanning = false;
      this.scan();
    }, this.opts.reconnectDelayMs ?? 1000);
  }
}

/** FNV-1a, 32 bits: a stable wire id from a sensor's address. */
export function defaultDeviceId(p: NoblePeripheral): number {
  const key = p.address && p.address !== 'unknown' ? p.address.toLowerCase() : p.id;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
