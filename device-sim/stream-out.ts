/**
 * The I/O edge: records -> wire frames -> a serial port, a file or stdout, paced against the clock.
 * Backpressure is honoured everywhere: a write that the stream refuses waits for 'drain'.
 */
import { once } from 'node:events';
import type { EventEmitter } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { setTimeout as sleepMs } from 'node:timers/promises';
import type { DeviceRecord } from '../firmware-bindings/index.ts';

export interface FrameSink {
  /** Resolves when the sink can take more (not necessarily when the bytes reached the device). */
  write(bytes: Uint8Array): Promise<void>;
  /** Flushes everything written and releases the sink. */
  close(): Promise<void>;
}

/** The writing side of a Node writable or a serialport SerialPort. */
interface WritableLike extends EventEmitter {
  write(chunk: Uint8Array, callback: (err?: Error | null) => void): boolean;
}

/**
 * Writes with backpressure and remembers the outcome of the latest write. Write callbacks run in
 * order, so once the latest has called back every earlier write is done. An 'error' listener stays
 * attached, so a failing stream rejects the next write or close instead of crashing the process.
 */
class OrderedWriter {
  private last: Promise<void> = Promise.resolve();
  private failure: Error | null = null;

  constructor(private readonly stream: WritableLike) {
    stream.on('error', (err: Error) => {
      this.failure ??= err;
    });
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    let ok = true;
    this.last = new Promise<void>((resolve, reject) => {
      ok = this.stream.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
    // The error is reported through write()/settled() below; don't let it surface as unhandled.
    this.last.catch(() => undefined);
    if (!ok) await waitForDrain(this.stream);
  }

  /** Resolves when every write so far has completed. */
  async settled(): Promise<void> {
    await this.last;
    if (this.failure) throw this.failure;
  }
}

/** A sink over a Node writable. With end: false (stdout) close() waits for pending writes but leaves it open. */
export function writableSink(stream: Writable, opts: { end: boolean }): FrameSink {
  const writer = new OrderedWriter(stream);
  return {
    write: (bytes) => writer.write(bytes),
    async close() {
      await writer.settled();
      if (opts.end) await new Promise<void>((resolve) => stream.end(resolve));
      await writer.settled();
    },
  };
}

export async function openFileSink(path: string): Promise<FrameSink> {
  const stream = createWriteStream(path);
  try {
    await once(stream, 'open');
  } catch (err) {
    throw new Error(`cannot open ${path} for writing: ${(err as Error).message}`);
  }
  return writableSink(stream, { end: true });
}

export function stdoutSink(stdout: Writable = process.stdout): FrameSink {
  return writableSink(stdout, { end: false });
}

/** The part of serialport's SerialPort (a Duplex) this module uses. */
export interface SerialPortLike extends WritableLike {
  drain(callback: (err: Error | null) => void): void;
  close(callback: (err: Error | null) => void): void;
  readonly isOpen: boolean;
}

/**
 * A sink over an open serial port. close() first waits for the stream's queued writes (port.drain
 * alone only waits for the write in flight), then for the OS to transmit them (port.drain:
 * tcdrain on POSIX), then closes the port.
 */
export function serialSink(port: SerialPortLike): FrameSink {
  const writer = new OrderedWriter(port);
  return {
    write: (bytes) => writer.write(bytes),
    async close() {
      if (!port.isOpen) return;
      try {
        await writer.settled();
        await new Promise<void>((resolve, reject) => port.drain((err) => (err ? reject(err) : resolve())));
      } finally {
        // A failed write may already have closed it.
        if (port.isOpen) await new Promise<void>((resolve, reject) => port.close((err) => (err ? reject(err) : resolve())));
      }
    },
  };
}

/** Opens a real serial port (serialport 13, loaded only when needed) and wraps it. */
export async function openSerialSink(path: string, baudRate: number): Promise<FrameSink> {
  const { SerialPort } = await import('serialport');
  const port = new SerialPort({ path, baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((err) => (err ? reject(new Error(`cannot open serial port ${path}: ${err.message}`)) : resolve())),
  );
  return serialSink(port);
}

function waitForDrain(stream: EventEmitter): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onError = (err: Error) => done(err);
    const onClose = () => done(new Error('stream closed while waiting to write'));
    stream.on('drain', onDrain);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Resolves after ms, or rejects when signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleepMs(ms, undefined, signal ? { signal } : {}),
};

export interface PumpOptions {
  /** Simulated seconds per real second; 0 or Infinity: as fast as the sink takes them. */
  speed: number;
  encode: (rec: DeviceRecord) => Uint8Array;
  clock?: Clock;
  signal?: AbortSignal;
}

export interface PumpStats {
  records: number;
  bytes: number;
  /** Simulated time covered: last timestamp − first timestamp, ms. */
  simulatedMs: number;
  /** Stopped early by the abort signal. */
  aborted: boolean;
}

/** Unpaced output is batched into writes of about this size. */
const BATCH_BYTES = 16 * 1024;

/**
 * Encodes each record as one frame and writes it. When paced, the records of one timestamp go out
 * together when the real clock reaches (timestamp − first timestamp) / speed.
 */
export async function pumpFrames(records: Iterable<DeviceRecord>, sink: FrameSink, opts: PumpOptions): Promise<PumpStats> {
  if (!(opts.speed >= 0)) throw new RangeError(`speed must be ≥ 0 (0 = as fast as possible), got ${opts.speed}`);
  const paced = opts.speed > 0 && Number.isFinite(opts.speed);
  const clock = opts.clock ?? realClock;
  const stats: PumpStats = { records: 0, bytes: 0, simulatedMs: 0, aborted: false };
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  const flush = async () => {
    if (batchBytes === 0) return;
    const bytes = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes);
    batch = [];
    batchBytes = 0;
    await sink.write(bytes);
    stats.bytes += bytes.length;
  };

  let firstTs = NaN;
  let lastTs = NaN;
  let realStart = 0;
  for (const rec of records) {
    if (opts.signal?.aborted) {
      stats.aborted = true;
      break;
    }
    if (Number.isNaN(firstTs)) {
      firstTs = rec.timestampMs;
      realStart = clock.now();
    }
    if (paced && rec.timestampMs !== lastTs) {
      await flush();
      const wait = realStart + (rec.timestampMs - firstTs) / opts.speed - clock.now();
      if (wait > 0) {
        try {
          await clock.sleep(wait, opts.signal);
        } catch (err) {
          if (opts.signal?.aborted) {
            stats.aborted = true;
            break;
          }
          throw err;
        }
      }
    }
    lastTs = rec.timestampMs;
    const frame = opts.encode(rec);
    batch.push(frame);
    batchBytes += frame.length;
    stats.records++;
    if (batchBytes >= BATCH_BYTES) await flush();
  }
  await flush();
  stats.simulatedMs = Number.isNaN(firstTs) ? 0 : lastTs - firstTs;
  return stats;
}
