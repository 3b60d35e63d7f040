export { RecordStore, SegmentLog, scanEntries, encodeEntry, DiskWriteError, type RecoveryReport } from './store/index.ts';
export { Ingestor, type IngestStats } from './ingest/ingestor.ts';
export { SerialSource, type SerialSourceOptions } from './ingest/serial-source.ts';
export { FirmataSource, type FirmataSourceOptions, type FirmataSourceStats } from './ingest/firmata-source.ts';
export { parseGattCaptureLine, replayGattCapture, type GattCaptureLineResult, type GattCaptureStats } from './ingest/gatt-capture-source.ts';
export { runIngest, formatStats, type RunIngestOptions, type IngestResult } from './ingest/run-ingest.ts';
export * from './training/index.ts';
export * from './service/index.ts';
