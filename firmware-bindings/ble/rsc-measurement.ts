/**
 * RSC Measurement, characteristic 0x2A53 of the Running Speed and Cadence Service 0x1814.
 * Layout: Bluetooth SIG, GATT Specification Supplement (GSS), "RSC Measurement", and Running Speed
 * and Cadence Service 1.0. All fields little-endian:
 *
 *   flags u8   bit 0  Instantaneous Stride Length present
 *              bit 1  Total Distance present
 *              bit 2  walking (0) or running (1)
 *              bits 3–7 reserved (ignored when decoding)
 *   Instantaneous Speed    u16, 1/256 m/s
 *   Instantaneous Cadence  u8, 1/min (foot pods count steps: a runner at 90 strides/min reports 180)
 *   Instantaneous Stride Length  u16, 1/100 m (optional)
 *   Total Distance         u32, 1/10 m (optional)
 *
 * Example from the notes (shared/notes/edge-stack.md §5): 07 00 03 AA 78 00 E8 03 00 00 is
 * 3 m/s, 170 /min, 1.20 m, 100.0 m, running.
 */
import { GattEncodeError, GattError, hexOf } from './gatt-error.ts';

export interface RscMeasurement {
  /** m/s, 1/256 resolution on the air. */
  speedMps: number;
  /** steps per minute (uint8). */
  cadenceSpm: number;
  /** metres, 1/100 resolution. */
  strideLengthM?: number;
  /** metres, 1/10 resolution. */
  totalDistanceM?: number;
  running: boolean;
}

const STRIDE_PRESENT = 0x01;
const DISTANCE_PRESENT = 0x02;
const RUNNING = 0x04;

export function decodeRscMeasurement(data: Uint8Array): RscMeasurement {
  const fail = (detail: string): never => {
    throw new GattError('rscMeasurement', `${detail} (payload ${hexOf(data)})`);
  };
  if (data.length < 4) fail(`${data.length} byte(s); flags, speed and cadence need 4`);
  const flags = data[0];
  const need = 4 + (flags & STRIDE_PRESENT ? 2 : 0) + (flags & DISTANCE_PRESENT ? 4 : 0);
  if (data.length < need) fail(`flags announce ${need} bytes but only ${data.length} arrived`);
  if (data.length > need) fail(`${data.length - need} unexpected trailing byte(s) after the fields the flags announce`);
  const m: RscMeasurement = {
    speedMps: (data[1] | (data[2] << 8)) / 256,
    cadenceSpm: data[3],
    running: (flags & RUNNING) !== 0,
  };
  let p = 4;
  if (flags & STRIDE_PRESENT) {
    m.strideLengthM = (data[p] | (data[p + 1] << 8)) / 100;
    p += 2;
  }
  if (flags & DISTANCE_PRESENT) {
    // >>> 0: the top byte would otherwise make a negative int32.
    m.totalDistanceM = ((data[p] | (data[p + 1] << 8) | (data[p + 2] << 16) | (data[p + 3] << 24)) >>> 0) / 10;
  }
  return m;
}

/** Encodes with the on-air resolutions, rounding to nearest; throws GattEncodeError naming a field that does not fit. */
export function encodeRscMeasurement(m: RscMeasurement): Uint8Array {
  const speed = scaled(m.speedMps, 256, 0xffff, 'speedMps');
  const cadence = scaled(m.cadenceSpm, 1, 0xff, 'cadenceSpm');
  const hasStride = m.strideLengthM !== undefined;
  const hasDistance = m.totalDistanceM !== undefined;
  const out = new Uint8Array(4 + (hasStride ? 2 : 0) + (hasDistance ? 4 : 0));
  out[0] = (hasStride ? STRIDE_PRESENT : 0) | (hasDistance ? DISTANCE_PRESENT : 0) | (m.running ? RUNNING : 0);
  out[1] = speed & 0xff;
  out[2] = speed >> 8;
  out[3] = cadence;
  let p = 4;
  if (hasStride) {
    const s = scaled(m.strideLengthM, 100, 0xffff, 'strideLengthM');
    out[p++] = s & 0xff;
    out[p++] = s >> 8;
  }
  if (hasDistance) {
    const d = scaled(m.totalDistanceM, 10, 0xffffffff, 'totalDistanceM');
    new DataView(out.buffer).setUint32(p, d, true);
  }
  return out;
}

function scaled(x: unknown, scale: number, maxRaw: number, field: string): number {
  const raw = typeof x === 'number' && Number.isFinite(x) ? Math.round(x * scale) : NaN;
  if (!(raw >= 0 && raw <= maxRaw)) throw new GattEncodeError(field, `expected 0..${maxRaw / scale} (step ${1 / scale}), got ${String(x)}`);
  return raw;
}
