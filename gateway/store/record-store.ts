import fs from 'node:fs';
import { decodeRecord, encodeRecord, type DeviceRecord } from '../../firmware-bindings/index.ts';
import { scanEntries } from './entry-codec.ts';
import { SegmentLog, type RecoveryReport, type SegmentLogOptions } from './segment-log.ts';

/**
 * The gateway's store of device records: a SegmentLog whose entries are the records' wire
 * encodings (header, payload and CRC-16, without COBS), so the store keeps exactly what the
 * device sent and reuses the protocol's own validation when read back.
 */
export class RecordStore {
  private constructor(private readonly log: SegmentLog) {}

  static open(dir: string, opts?: SegmentLogOptions): RecordStore {
    return new RecordStore(SegmentLog.open(dir, opts));
  }

  get recovery(): RecoveryReport {
    return this.log.recovery;
  }

  /** Records acknowledged as durable. */
  get durableCount(): number {
    return this.log.durableCount;
  }

  get pendingCount(): number {
    return this.log.pendingCount;
  }

  append(record: DeviceRecord): void {
    this.log.append(encodeRecord(record));
  }

  /** Makes every appended record durable; returns the durable count. */
  flush(): number {
    return this.log.flush();
  }

  close(): void {
    this.log.close();
  }

  static *readAll(dir: string): Generator<DeviceRecord> {
    for (const body of SegmentLog.readAll(dir)) yield decodeRecord(body);
  }

  /**
   * The records of the newest segments, from the newest segment holding a record stamped at or
   * before `sinceMs` onwards (so every record newer than `sinceMs` is included, plus some older ones
   * of that segment). Reads only the tail of a long history: the service replays windowing from it.
   */
  static *readSince(dir: string, sinceMs: number): Generator<DeviceRecord> {
    const numbers = SegmentLog.segmentNumbers(dir);
    let first = 0;
    for (let i = numbers.length - 1; i >= 0; i--) {
      const scan = scanEntries(fs.readFileSync(SegmentLog.segmentPath(dir, numbers[i])));
      if (scan.entries.some((e) => decodeRecord(e.body).timestampMs <= sinceMs)) {
        first = i;
        break;
      }
    }
    for (const n of numbers.slice(first)) {
      for (const e of scanEntries(fs.readFileSync(SegmentLog.segmentPath(dir, n))).entries) yield decodeRecord(e.body);
    }
  }
}
