export { RecordStore } from './record-store.ts';
export { SegmentLog, type RecoveryReport, type SegmentLogOptions } from './segment-log.ts';
export { encodeEntry, scanEntries, type ScanResult } from './entry-codec.ts';
export { DiskWriteError, fsyncDir, writeAllDurably } from './durable-write.ts';
