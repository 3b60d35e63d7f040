import { decodeRecord, encodeRecord, type DeviceRecord } from '../../firmware-bindings/index.ts';
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
}
