import fs from 'node:fs';
import { EventEmitter } from 'node:events';
import { SerialPort } from 'serialport';

export interface SerialSourceOptions {
  path: string;
  baudRate?: number;
  /** First reconnect delay; doubles up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
  /** How often to check that the device node still exists while open. */
  presenceCheckMs?: number;
}

export interface SerialSourceEvents {
  data: [chunk: Buffer];
  open: [path: string];
  disconnect: [reason: string];
  error: [err: Error];
}

/**
 * A serial device that comes and goes. Emits `data` while connected; when the port closes or the
 * device node disappears (USB unplugged, socat gone) it closes its side and reopens with backoff.
 *
 * The presence check exists because serialport 13 on a hung-up pty sometimes never emits `close`
 * and spins on zero-byte reads (shared/notes/edge-stack.md §1); the vanished device node is the
 * reliable signal.
 */
export class SerialSource extends EventEmitter<SerialSourceEvents> {
  private port: SerialPort | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private presenceTimer: NodeJS.Timeout | null = null;
  private delay: number;
  reconnects = 0;

  constructor(private readonly opts: SerialSourceOptions) {
    super();
    this.delay = opts.retryMs ?? 200;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    if (!fs.existsSync(this.opts.path)) {
      this.scheduleRetry();
      return;
    }
    const port = new SerialPort({ path: this.opts.path, baudRate: this.opts.baudRate ?? 115200, autoOpen: false });
    this.port = port;
    port.on('data', (chunk: Buffer) => this.emit('data', chunk));
    port.on('close', () => this.lost(port, 'port closed'));
    port.on('error', (err: Error) => {
      this.emit('error', err);
      this.lost(port, err.message);
    });
    port.open((err) => {
      if (err) {
        this.lost(port, err.message);
        return;
      }
      this.delay = this.opts.retryMs ?? 200;
      this.emit('open', this.opts.path);
      this.presenceTimer = setInterval(() => {
        if (!fs.existsSync(this.opts.path)) this.lost(port, 'device node disappeared');
      }, this.opts.presenceCheckMs ?? 500);
    });
  }

  private lost(port: SerialPort, reason: string): void {
    if (this.port !== port) return; // already handled for this port
    this.port = null;
    if (this.presenceTimer) clearInterval(this.presenceTimer);
    this.presenceTimer = null;
    port.removeAllListeners('data');
    if (port.isOpen) port.close(() => undefined);
    if (this.stopped) return;
    this.emit('disconnect', reason);
    this.reconnects++;
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, this.delay);
    this.delay = Math.min(this.delay * 2, this.opts.maxRetryMs ?? 2000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.presenceTimer) clearInterval(this.presenceTimer);
    const port = this.port;
    this.port = null;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}
