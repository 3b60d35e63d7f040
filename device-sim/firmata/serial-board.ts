/**
 * The serial edge of the Firmata board emulator: a FirmataBoardCore on a serial port (in tests, one
 * end of a socat pseudo-terminal pair), fed by a simulated wearer, sampling on a clock.
 *
 * - Announcing. An Arduino resets when the host opens its port (DTR) and then sends REPORT_VERSION
 *   and REPORT_FIRMWARE. A pty has no DTR, so the emulator cannot see the host arrive: it repeats
 *   the announcement every `announceEveryMs` until the first host byte (shared/notes/edge-stack.md §2).
 * - Time. Each sampling tick advances simulated time by the host's sampling interval, and ticks
 *   happen `speed` times faster than real time. Simulated time is authoritative: if the process is
 *   slow, ticks come in a burst but none are skipped. A host that timestamps by counting samples
 *   (firmware-bindings/johnny-five) therefore sees simulated time exactly, at any speed.
 * - Start. With startWhen 'reporting' (default) the wearer's clock starts when the host has turned
 *   on reporting for both sensor pins, so no beat or step happens before anyone listens; 'immediately'
 *   starts it on open, as a real board would.
 * - End. After the simulated duration (the last tick is at exactly durationMs) the board stops
 *   reporting, as if the wearer took it off, and emits 'finished'.
 */
import { EventEmitter } from 'node:events';
import type { SerialPort } from 'serialport';
import { FirmataBoardCore, type FirmataInputError, type FirmataCoreStats } from './board-core.ts';
import { PIN_MODE } from './firmata-protocol.ts';
import type { WearerSample } from './simulated-wearer.ts';

/** What the board's sensors read: a SimulatedWearer, or anything with the same shape. */
export interface WearerSignals {
  readonly durationMs: number;
  sample(tMs: number): WearerSample;
}

export interface FirmataBoardEmulatorOptions {
  /** Serial device to serve (the board end of a pty pair). */
  path: string;
  baudRate?: number;
  wearer: WearerSignals;
  /** Analog channel of the pulse sensor (default 0: A0). */
  pulseChannel?: number;
  /** Digital pin of the step line (default 2). */
  stepPin?: number;
  /** Simulated ms per real ms (default 1). */
  speed?: number;
  announceEveryMs?: number;
  firmwareName?: string;
  startWhen?: 'reporting' | 'immediately';
}

export interface FirmataBoardEmulatorEvents {
  open: [];
  /** The first byte from the host arrived; announcing stops. */
  host: [];
  /** The wearer's clock started. */
  started: [];
  /** Simulated second `second` is complete (all its samples were written). */
  second: [second: number];
  finished: [];
  inputError: [error: FirmataInputError];
  error: [error: Error];
  close: [];
}

export interface FirmataBoardEmulatorStats extends FirmataCoreStats {
  ticks: number;
  bytesOut: number;
  announcements: number;
  simulatedMs: number;
}

export class FirmataBoardEmulator extends EventEmitter<FirmataBoardEmulatorEvents> {
  readonly core: FirmataBoardCore;
  private port: SerialPort | null = null;
  private readonly speed: number;
  private readonly pulseChannel: number;
  private readonly stepPin: number;
  private announceTimer: NodeJS.Timeout | null = null;
  private pumpTimer: NodeJS.Timeout | null = null;
  private started = false;
  private finished = false;
  private nextTickMs = 0;
  private realAnchor = 0;
  private simAnchor = 0;
  private ticks = 0;
  private bytesOut = 0;
  private announcements = 0;

  constructor(private readonly opts: FirmataBoardEmulatorOptions) {
    super();
    this.speed = opts.speed ?? 1;
    if (!(this.speed > 0 && Number.isFinite(this.speed))) throw new RangeError(`speed must be a positive number, got ${opts.speed}`);
    this.pulseChannel = opts.pulseChannel ?? 0;
    this.stepPin = opts.stepPin ?? 2;
    this.core = new FirmataBoardCore({ firmwareName: opts.firmwareName ?? 'FedwearWearableSim.ino', onError: (e) => this.emit('inputError', e) });
  }

  get stats(): FirmataBoardEmulatorStats {
    return { ...this.core.stats, ticks: this.ticks, bytesOut: this.bytesOut, announcements: this.announcements, simulatedMs: this.started ? this.nextTickMs : 0 };
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** Opens the port and starts announcing. */
  async start(): Promise<void> {
    // Loaded only when needed, as stream-out.ts does: importing device-sim must not load a native addon.
    const { SerialPort: Port } = await import('serialport');
    const port = new Port({ path: this.opts.path, baudRate: this.opts.baudRate ?? 57600, autoOpen: false });
    this.port = port;
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    port.on('data', (chunk: Buffer) => this.fromHost(chunk));
    port.on('error', (err: Error) => this.emit('error', err));
    port.on('close', () => this.emit('close'));
    this.emit('open');
    this.powerOn();
  }

  /** A hardware reset: state cleared, announcing again until the host speaks. */
  powerOn(): void {
    this.core.reset();
    this.core.hostSpoke = false;
    this.stopTimers();
    this.started = false;
    this.finished = false;
    const announce = (): void => {
      if (this.core.hostSpoke) return;
      this.announcements++;
      this.write(this.core.announce());
      this.announceTimer = setTimeout(announce, this.opts.announceEveryMs ?? 150);
    };
    announce();
    if (this.opts.startWhen === 'immediately') this.startClock();
  }

  async stop(): Promise<void> {
    this.stopTimers();
    const port = this.port;
    this.port = null;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  private fromHost(chunk: Buffer): void {
    const first = !this.core.hostSpoke;
    const reply = this.core.receive(chunk);
    if (first && this.core.hostSpoke) {
      if (this.announceTimer) clearTimeout(this.announceTimer);
      this.announceTimer = null;
      this.emit('host');
    }
    if (reply.length > 0) this.write(reply);
    if (!this.started && this.opts.startWhen !== 'immediately' && this.sensorsReporting()) this.startClock();
  }

  private sensorsReporting(): boolean {
    const stepIsInput = this.core.pinMode(this.stepPin) === PIN_MODE.INPUT || this.core.pinMode(this.stepPin) === PIN_MODE.PULLUP;
    return this.core.isAnalogReporting(this.pulseChannel) && stepIsInput && this.core.isDigitalReporting(this.stepPin);
  }

  private startClock(): void {
    this.started = true;
    this.nextTickMs = 0;
    this.simAnchor = 0;
    this.realAnchor = performance.now();
    this.emit('started');
    this.pump();
  }

  private pump(): void {
    this.pumpTimer = null;
    if (!this.port || this.finished) return;
    const interval = this.core.samplingIntervalMs;
    const target = this.simAnchor + (performance.now() - this.realAnchor) * this.speed;
    const chunks: Uint8Array[] = [];
    const seconds: number[] = [];
    // Bounded bursts keep the event loop (and the host on the other end) responsive after a stall.
    for (let n = 0; n < 500 && this.nextTickMs <= target; n++) {
      const t = this.nextTickMs;
      if (t > this.opts.wearer.durationMs) {
        this.finished = true;
        break;
      }
      const s = this.opts.wearer.sample(t);
      chunks.push(
        this.core.sample({
          analog: (ch) => (ch === this.pulseChannel ? s.ppg : 0),
          digital: (pin) => (pin === this.stepPin ? s.step : 0),
        }),
      );
      this.ticks++;
      const next = t + interval;
      // Second s is complete once every sample before (s + 1)·1000 ms is out.
      for (let end = Math.floor(t / 1000) + 1; end * 1000 <= next && end * 1000 <= this.opts.wearer.durationMs; end++) seconds.push(end - 1);
      this.nextTickMs = next;
    }
    if (this.nextTickMs <= target && !this.finished) {
      // Still behind after a full burst: let simulated time lag instead of bursting forever.
      this.simAnchor = this.nextTickMs;
      this.realAnchor = performance.now();
    }
    if (chunks.length > 0) this.write(Buffer.concat(chunks));
    for (const sec of seconds) this.emit('second', sec);
    if (this.finished) {
      this.emit('finished');
      return;
    }
    const delay = Math.max(1, Math.min(20, interval / this.speed));
    this.pumpTimer = setTimeout(() => this.pump(), delay);
  }

  private write(bytes: Uint8Array): void {
    if (!this.port?.isOpen || bytes.length === 0) return;
    this.bytesOut += bytes.length;
    this.port.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  private stopTimers(): void {
    if (this.announceTimer) clearTimeout(this.announceTimer);
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.announceTimer = null;
    this.pumpTimer = null;
  }
}
