/**
 * Byte counts and type codes of the wire protocol (wire-format.md). The C library mirrors every
 * number here in c/fedwear_wire.h; the shared vectors catch a drift between the two.
 */
import { RecordType, type DeviceRecordKind, type RecordTypeCode } from './records.ts';

/** version u8, type u8, device id u32, sequence u32, timestamp u64. */
export const HEADER_LENGTH = 18;
export const CRC_LENGTH = 2;
export const MAX_RR_INTERVALS = 32;
export const MAX_MODEL_BYTES = 32;
/**
 * The wire carries a u64 timestamp, but a JS number is exact only below 2^53, so both codecs
 * refuse larger values (year 287396: no real clock gets there).
 */
export const MAX_TIMESTAMP_MS = Number.MAX_SAFE_INTEGER;

export const PAYLOAD_LENGTH = {
  heartRate: 3,
  steps: 4,
  energyLabel: 7,
  battery: 3,
  /** count u8, then count x u16. */
  rrIntervalsMin: 1,
  rrIntervalsMax: 1 + 2 * MAX_RR_INTERVALS,
  /** fw major/minor/patch, hw rev, model length, then the model bytes. */
  deviceInfoMin: 5,
  deviceInfoMax: 5 + MAX_MODEL_BYTES,
} as const;

/** Longest header + payload + CRC (an RR record with 32 intervals). */
export const MAX_RECORD_LENGTH = HEADER_LENGTH + PAYLOAD_LENGTH.rrIntervalsMax + CRC_LENGTH;
/** Shortest: header + CRC; no type has an empty payload, but the check order needs this bound. */
export const MIN_RECORD_LENGTH = HEADER_LENGTH + CRC_LENGTH;

/** COBS adds one byte per started 254-byte block (and one for empty input). */
export function cobsMaxEncodedLength(n: number): number {
  return n === 0 ? 1 : n + Math.ceil(n / 254);
}

/** Longest COBS-encoded frame, without its 0x00 delimiter: the decoder's default size limit. */
export const MAX_ENCODED_FRAME_LENGTH = cobsMaxEncodedLength(MAX_RECORD_LENGTH);

const KIND_BY_CODE: Record<number, DeviceRecordKind | undefined> = {
  [RecordType.HeartRate]: 'heartRate',
  [RecordType.RrIntervals]: 'rrIntervals',
  [RecordType.Steps]: 'steps',
  [RecordType.EnergyLabel]: 'energyLabel',
  [RecordType.Battery]: 'battery',
  [RecordType.DeviceInfo]: 'deviceInfo',
};

export const CODE_BY_KIND: Readonly<Record<DeviceRecordKind, RecordTypeCode>> = {
  heartRate: RecordType.HeartRate,
  rrIntervals: RecordType.RrIntervals,
  steps: RecordType.Steps,
  energyLabel: RecordType.EnergyLabel,
  battery: RecordType.Battery,
  deviceInfo: RecordType.DeviceInfo,
};

export function kindOfCode(code: number): DeviceRecordKind | undefined {
  return KIND_BY_CODE[code];
}
