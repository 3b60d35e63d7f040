import { EventEmitter } from 'node:events';
import { FrameDecoder, type DeviceRecord } from '../../firmware-bindings/index.ts';
import type { RecordStore } from '../store/index.ts';

export interface IngestStats {
  bytesRead: number;
  framesOk: number;
  /** Every bad frame, all error kinds together. */
  framesBad: number;
  /** Bad frames by kind (crc, length, cobs, unknownType, version, ...), from the decoder. */
  errors: Record<string, number>;
  /** Frames missing according to sequence numbers, and the number of gaps seen. */
  seqGaps: number;
  seqGapEvents: number;
  /** Records written and fsynced: acknowledged. */
  recordsStored: number;
  reconnects: number;
  /** Records from record-level sources (a Firmata board), which have no frames. */
  recordsPushed: number;
}

export interface IngestorOptions {
  /** Flush (write + fsync) once this many records are pending. */
  flushEveryRecords?: number;
}

export interface IngestorEvents {
  record: [record: DeviceRecord];
  /** Emitted after each flush with the durable record count. */
  ack: [recordsStored: number];
}

/**
 * Bytes in, durable records out. Transport-agnostic: the serial and file edges push chunks, a
 * timer (in the runner) calls flush() so records are acknowledged within a bounded delay.
 */
export class Ingestor extends EventEmitter<IngestorEvents> {
  readonly decoder = new FrameDecoder();
  private bytesRead = 0;
  private recordsPushed = 0;
  reconnects = 0;
  private readonly flushEvery: number;
  private readonly storedAtOpen: number;

  constructor(private readonly store: RecordStore, opts: IngestorOptions = {}) {
    super();
    this.flushEvery = opts.flushEveryRecords ?? 256;
    this.storedAtOpen = store.durableCount;
  }

  push(chunk: Uint8Array): void {
    this.bytesRead += chunk.length;
    for (const record of this.decoder.push(chunk)) {
      this.store.append(record);
      this.emit('record', record);
    }
    if (this.store.pendingCount >= this.flushEvery) this.flush();
  }

  /** A record from a source that makes records itself (Firmata) rather than sending wire bytes. */
  pushRecord(record: DeviceRecord): void {
    this.recordsPushed++;
    this.store.append(record);
    this.emit('record', record);
    if (this.store.pendingCount >= this.flushEvery) this.flush();
  }

  flush(): number {
    const before = this.store.durableCount;
    const n = this.store.flush();
    if (n !== before) this.emit('ack', n - this.storedAtOpen);
    return n;
  }

  /** Records this session made durable (the store may hold more from earlier runs). */
  get recordsStored(): number {
    return this.store.durableCount - this.storedAtOpen;
  }

  stats(): IngestStats {
    const d = this.decoder.stats;
    return {
      bytesRead: this.bytesRead,
      framesOk: d.framesOk,
      framesBad: d.framesBad,
      errors: { ...d.errors },
      seqGaps: d.seqGaps,
      seqGapEvents: d.seqGapEvents,
      recordsStored: this.recordsStored,
      reconnects: this.reconnects,
      recordsPushed: this.recordsPushed,
    };
  }
}
