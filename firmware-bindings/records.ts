/**
 * The records a wearable sends to its gateway. These plain objects are what every transport
 * (wire protocol, BLE GATT, Firmata) decodes into and what the gateway stores.
 * Wire layout is in wire-format.md; the C library mirrors these numbers in c/fedwear_wire.h.
 */

export const PROTOCOL_VERSION = 1;

export const RecordType = {
  HeartRate: 1,
  RrIntervals: 2,
  Steps: 3,
  EnergyLabel: 4,
  Battery: 5,
  DeviceInfo: 6,
} as const;
export type RecordTypeCode = (typeof RecordType)[keyof typeof RecordType];

/** Fields every frame carries in its header. */
export interface RecordHeader {
  /** uint32: unique per physical device. */
  deviceId: number;
  /** uint32, +1 per frame, wraps at 2^32; gaps are counted as loss by the decoder. */
  seq: number;
  /** Milliseconds since the Unix epoch (uint64 on the wire, kept below 2^53 here). */
  timestampMs: number;
}

/** Optical heart rate. confidence 0 means no skin contact / dropout (bpm is then meaningless). */
export interface HeartRateRecord extends RecordHeader {
  type: 'heartRate';
  /** beats per minute, 0.1 bpm resolution on the wire (uint16 of bpm*10). */
  bpm: number;
  /** 0..100 percent. */
  confidence: number;
}

/** Beat-to-beat intervals measured since the previous RR record, oldest first. */
export interface RrIntervalsRecord extends RecordHeader {
  type: 'rrIntervals';
  /** each uint16 milliseconds; at most 32 per record. */
  intervalsMs: number[];
}

/** Cumulative step count since device boot (uint32, wraps). */
export interface StepsRecord extends RecordHeader {
  type: 'steps';
  total: number;
}

export const LabelSource = { ChestStrap: 1, GymEquipment: 2, Lab: 3 } as const;
export type LabelSourceCode = (typeof LabelSource)[keyof typeof LabelSource];

/** A reference energy-expenditure measurement covering [timestampMs - durationS*1000, timestampMs). */
export interface EnergyLabelRecord extends RecordHeader {
  type: 'energyLabel';
  /** kcal per minute, 0.001 resolution on the wire (uint32 of kcal/min*1000). */
  kcalPerMin: number;
  /** uint16 seconds. */
  durationS: number;
  source: LabelSourceCode;
}

export interface BatteryRecord extends RecordHeader {
  type: 'battery';
  /** 0..100. */
  percent: number;
  /** uint16. */
  millivolts: number;
}

export interface DeviceInfoRecord extends RecordHeader {
  type: 'deviceInfo';
  firmware: [major: number, minor: number, patch: number];
  hardwareRevision: number;
  /** UTF-8, at most 32 bytes. */
  model: string;
}

export type DeviceRecord =
  | HeartRateRecord
  | RrIntervalsRecord
  | StepsRecord
  | EnergyLabelRecord
  | BatteryRecord
  | DeviceInfoRecord;

export type DeviceRecordKind = DeviceRecord['type'];
