/**
 * A Firmata board (pulse sensor + step line) as an ingest source. Unlike the serial and file
 * sources it yields DeviceRecords, not wire bytes: the board speaks Firmata, and the records are made
 * here, by firmware-bindings' FirmataWearable. When the board goes away (port closed, device node
 * gone) it reopens with backoff, as SerialSource does; sequence numbers carry on across reconnects.
 */
import fs from 'node:fs';
import { EventEmitter } from 'node:events';
import { FirmataWearable, openFirmataBoard, type DeviceRecord, type FirmataWearableStats, type OpenedFirmataBoard } from '../../firmware-bindings/index.ts';

export interface FirmataSourceOptions {
  path: string;
  baudRate?: number;
  /** Wire device id for the board's records (default: FNV-1a of the path). */
  deviceId?: number;
  pulsePin?: string | number;
  stepPin?: number;
  samplingIntervalMs?: number;
  retryMs?: number;
  maxRetryMs?: number;
  presenceCheckMs?: number;
}

export interface FirmataSourceEvents {
  record: [record: DeviceRecord];
  open: [path: string, firmware: string];
  disconnect: [reason: string];
  error: [err: Error];
}

export interface FirmataSourceStats {
  connects: number;
  /** Counters of the current (or last) connection's component. */
  board: FirmataWearableStats | null;
}

export class FirmataSource extends EventEmitter<FirmataSourceEvents> {
  readonly deviceId: number;
  private opened: OpenedFirmataBoard | null = null;
  private wearable: FirmataWearable | null = null;
  private stopped = true;
  private retryTimer: NodeJS.Timeout | null = null;
  private presenceTimer: NodeJS.Timeout | null = null;
  private delay: number;
  private nextSeq = 0;
  private connects = 0;
  private lastStats: FirmataWearableStats | null = null;

  constructor(private readonly opts: FirmataSourceOptions) {
    super();
    this.deviceId = opts.deviceId ?? fnv1a32(opts.path);
    this.delay = opts.retryMs ?? 200;
  }

  get stats(): FirmataSourceStats {
    return { connects: this.connects, board: this.wearable?.stats ?? this.lastStats };
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    if (!fs.existsSync(this.opts.path)) return this.scheduleRetry();
    let opened: OpenedFirmataBoard;
    try {
      opened = await openFirmataBoard(this.opts.path, { baudRate: this.opts.baudRate });
    } catch (e) {
      this.emit('error', e as Error);
      return this.scheduleRetry();
    }
    if (this.stopped) return void opened.close();
    this.opened = opened;
    this.connects++;
    this.delay = this.opts.retryMs ?? 200;
    const wearable = new FirmataWearable({
      board: opened.board,
      deviceId: this.deviceId,
      firstSeq: this.nextSeq,
      pulsePin: this.opts.pulsePin,
      stepPin: this.opts.stepPin,
      samplingIntervalMs: this.opts.samplingIntervalMs,
    });
    this.wearable = wearable;
    wearable.on('record', (r) => {
      this.nextSeq = (r.seq + 1) % 2 ** 32;
      this.emit('record', r);
    });
    const lost = (why: string): void => this.lost(opened, why);
    opened.port.on('close', () => lost('port closed'));
    opened.port.on('error', (err: Error) => lost(err.message));
    this.presenceTimer = setInterval(() => {
      if (!fs.existsSync(this.opts.path)) lost('device node disappeared');
    }, this.opts.presenceCheckMs ?? 500);
    this.emit('open', this.opts.path, opened.io.firmware.name ?? 'unknown firmware');
  }

  private lost(opened: OpenedFirmataBoard, reason: string): void {
    if (this.opened !== opened) return;
    this.opened = null;
    this.lastStats = this.wearable?.stats ?? null;
    this.wearable?.removeAllListeners('record');
    this.wearable = null;
    if (this.presenceTimer) clearInterval(this.presenceTimer);
    this.presenceTimer = null;
    void opened.close();
    if (this.stopped) return;
    this.emit('disconnect', reason);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, this.delay);
    this.delay = Math.min(this.delay * 2, this.opts.maxRetryMs ?? 2000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.presenceTimer) clearInterval(this.presenceTimer);
    this.retryTimer = null;
    this.presenceTimer = null;
    const opened = this.opened;
    this.opened = null;
    if (this.wearable) {
      this.lastStats = this.wearable.stats;
      this.wearable.removeAllListeners('record');
      this.wearable = null;
    }
    await opened?.close();
  }
}

/** FNV-1a, 32 bits: a stable device id from a source's path when none is given. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
