/**
 * Heart Rate Measurement, characteristic 0x2A37 of the Heart Rate Service 0x180D.
 * Layout: Bluetooth SIG, GATT Specification Supplement (GSS) v8, §3.113 "Heart Rate Measurement",
 * and Heart Rate Service 1.0. All fields little-endian:
 *
 *   flags u8   bit 0  HR value format: 0 = uint8, 1 = uint16 (bpm)
 *              bit 1  sensor contact detected    } bits 1–2 together: 0 or 1 = contact not supported,
 *              bit 2  sensor contact supported   } 2 = supported, not detected; 3 = detected
 *              bit 3  Energy Expended present
 *              bit 4  RR-Interval present
 *              bits 5–7 reserved for future use (ignored when decoding, as the spec asks)
 *   HR value   u8 or u16
 *   Energy Expended  u16 kilojoules, cumulative since the last reset (saturates at 0xFFFF)
 *   RR-Intervals     u16 each, unit 1/1024 s, oldest first; their count is whatever length is left
 */
import { GattEncodeError, GattError, hexOf } from './gatt-error.ts';

export type SensorContact = 'notSupported' | 'notDetected' | 'detected';

export interface HeartRateMeasurement {
  bpm: number;
  /** Which width the HR value was (or is to be) sent in. The encoder picks uint8 when bpm < 256 unless told. */
  format?: 'uint8' | 'uint16';
  sensorContact: SensorContact;
  /** Cumulative kJ, present only when the sensor sends it. */
  energyExpendedKj?: number;
  /** Raw RR intervals in 1/1024 s, oldest first (empty when the flag is clear). */
  rrIntervals1024: number[];
}

const FORMAT_U16 = 0x01;
const CONTACT_DETECTED = 0x02;
const CONTACT_SUPPORTED = 0x04;
const ENERGY_PRESENT = 0x08;
const RR_PRESENT = 0x10;

/** Decodes one notification value; throws GattError naming what is wrong. */
export function decodeHeartRateMeasurement(data: Uint8Array): HeartRateMeasurement {
  const fail = (detail: string): never => {
    throw new GattError('heartRateMeasurement', `${detail} (payload ${hexOf(data)})`);
  };
  if (data.length < 2) fail(`${data.length} byte(s); at least flags and a uint8 heart rate (2 bytes) are required`);
  const flags = data[0];
  const wide = (flags & FORMAT_U16) !== 0;
  let p = 1;
  if (wide && data.length < 3) fail('flags say uint16 heart rate but only 1 byte follows the flags');
  const bpm = wide ? data[1] | (data[2] << 8) : data[1];
  p += wide ? 2 : 1;
  const m: HeartRateMeasurement = {
    bpm,
    format: wide ? 'uint16' : 'uint8',
    sensorContact: (flags & CONTACT_SUPPORTED) === 0 ? 'notSupported' : (flags & CONTACT_DETECTED) !== 0 ? 'detected' : 'notDetected',
    rrIntervals1024: [],
  };
  if ((flags & ENERGY_PRESENT) !== 0) {
    if (data.length < p + 2) fail(`flags say Energy Expended is present but only ${data.length - p} byte(s) remain`);
    m.energyExpendedKj = data[p] | (data[p + 1] << 8);
    p += 2;
  }
  if ((flags & RR_PRESENT) !== 0) {
    const rest = data.length - p;
    if (rest === 0) fail('flags say RR-Interval is present but no interval follows');
    if (rest % 2 !== 0) fail(`RR-Interval field has ${rest} byte(s), not a whole number of uint16 values`);
    for (; p < data.length; p += 2) m.rrIntervals1024.push(data[p] | (data[p + 1] << 8));
  } else if (p !== data.length) {
    fail(`${data.length - p} unexpected trailing byte(s) after the last field the flags announce`);
  }
  return m;
}

/** Encodes a measurement; throws GattEncodeError naming a field that does not fit. */
export function encodeHeartRateMeasurement(m: HeartRateMeasurement): Uint8Array {
  const bpm = uint(m.bpm, 0xffff, 'bpm');
  const format = m.format ?? (bpm > 0xff ? 'uint16' : 'uint8');
  if (format === 'uint8' && bpm > 0xff) throw new GattEncodeError('bpm', `${bpm} does not fit the uint8 format; use uint16`);
  const rr = m.rrIntervals1024 ?? [];
  if (!Array.isArray(rr)) throw new GattEncodeError('rrIntervals1024', 'expected an array');
  let flags = format === 'uint16' ? FORMAT_U16 : 0;
  if (m.sensorContact === 'detected') flags |= CONTACT_SUPPORTED | CONTACT_DETECTED;
  else if (m.sensorContact === 'notDetected') flags |= CONTACT_SUPPORTED;
  else if (m.sensorContact !== 'notSupported') throw new GattEncodeError('sensorContact', `unknown value ${String(m.sensorContact)}`);
  const hasEnergy = m.energyExpendedKj !== undefined;
  if (hasEnergy) flags |= ENERGY_PRESENT;
  if (rr.length > 0) flags |= RR_PRESENT;
  const out = new Uint8Array(1 + (format === 'uint16' ? 2 : 1) + (hasEnergy ? 2 : 0) + 2 * rr.length);
  out[0] = flags;
  let p = 1;
  out[p++] = bpm & 0xff;
  if (format === 'uint16') out[p++] = bpm >> 8;
  if (hasEnergy) {
    const e = uint(m.energyExpendedKj, 0xffff, 'energyExpendedKj');
    out[p++] = e & 0xff;
    out[p++] = e >> 8;
  }
  rr.forEach((x, i) => {
    const v = uint(x, 0xffff, `rrIntervals1024[${i}]`);
    out[p++] = v & 0xff;
    out[p++] = v >> 8;
  });
  return out;
}

function uint(x: unknown, max: number, field: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > max) {
    throw new GattEncodeError(field, `expected an integer 0..${max}, got ${String(x)}`);
  }
  return x;
}
