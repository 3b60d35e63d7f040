/**
 * GATT notifications -> DeviceRecords, for one sensor. Decoding is in the codecs; this adds what the
 * wire records need and the GATT values lack: a device id, sequence numbers, timestamps, and a
 * cumulative step count.
 *
 * Mapping choices (firmware-bindings/README.md, "BLE"):
 * - heartRate: bpm as sent. confidence from sensor contact: detected 100, not detected 0 (the wire's
 *   "no skin contact"), contact not supported `unknownContactConfidence` (default 75). bpm 0 is
 *   always confidence 0.
 * - rrIntervals: each 1/1024-s value becomes round(x * 1000 / 1024) ms, at most 32 per record.
 * - steps: RSC carries a rate, not a count, so the count is integrated. A notification's cadence is
 *   what the sensor measured over the time since the previous notification, so each one adds
 *   cadence x (t - t_prev) / 60 000 steps (the right-endpoint rule). Gaps longer than `maxGapMs`
 *   (a disconnect) add nothing: we do not invent steps we did not see. The record carries
 *   floor(total); the fraction is kept for the next notification.
 * - Energy Expended (0x2A37) is not mapped. It is the strap's own estimate from heart rate, by an
 *   equation we do not know, in whole kJ; an energyLabel is a *reference* (design.md: chest strap
 *   with a lab-calibrated model, or gym equipment), and training on another model's guess would
 *   teach ours that guess. The decoded measurement still carries it for anyone who wants to look.
 */
import type { DeviceRecord } from '../records.ts';
import { MAX_RR_INTERVALS } from '../layout.ts';
import { GattError, emptyGattStats, type GattCharacteristic, type GattStats } from './gatt-error.ts';
import { decodeHeartRateMeasurement, type HeartRateMeasurement } from './heart-rate-measurement.ts';
import { decodeRscMeasurement, type RscMeasurement } from './rsc-measurement.ts';

export interface GattRecordMapperOptions {
  deviceId: number;
  /** Sequence number of the first record (default 0); wraps at 2^32. */
  firstSeq?: number;
  /** Step count to start from (default 0). */
  initialSteps?: number;
  /** Confidence for heart rates from sensors that cannot tell skin contact (default 75). */
  unknownContactConfidence?: number;
  /** Longest gap between RSC notifications that is still integrated (default 5000 ms). */
  maxGapMs?: number;
  /** Called with each refused payload (for logs); the counters are kept either way. */
  onError?: (error: GattError) => void;
}

/** Wire heart rate is bpm x 10 in a uint16. */
const MAX_WIRE_BPM = 6553.5;

export class GattRecordMapper {
  readonly stats: GattStats = emptyGattStats();
  readonly deviceId: number;
  private seq: number;
  private steps: number;
  private lastRscMs: number | null = null;
  private readonly unknownContactConfidence: number;
  private readonly maxGapMs: number;
  private readonly onError: ((error: GattError) => void) | undefined;

  constructor(opts: GattRecordMapperOptions) {
    this.deviceId = checkInt('deviceId', opts.deviceId, 0xffffffff);
    this.seq = checkInt('firstSeq', opts.firstSeq ?? 0, 0xffffffff);
    this.steps = checkInt('initialSteps', opts.initialSteps ?? 0, 0xffffffff);
    this.unknownContactConfidence = checkInt('unknownContactConfidence', opts.unknownContactConfidence ?? 75, 100);
    this.maxGapMs = opts.maxGapMs ?? 5000;
    this.onError = opts.onError;
  }

  /** Cumulative steps integrated so far (fractional). */
  get stepsTotal(): number {
    return this.steps;
  }

  /** A notification of `characteristic` (by UUID or name) received at timestampMs. Never throws on data. */
  notification(characteristic: string, data: Uint8Array, timestampMs: number): DeviceRecord[] {
    const c = characteristic.toLowerCase();
    if (c === '2a37' || c === 'heartratemeasurement') return this.heartRate(data, timestampMs);
    if (c === '2a53' || c === 'rscmeasurement') return this.rsc(data, timestampMs);
    return [];
  }

  heartRate(data: Uint8Array, timestampMs: number): DeviceRecord[] {
    const m = this.decode('heartRateMeasurement', data, decodeHeartRateMeasurement);
    if (m === undefined) return [];
    if (m.bpm > MAX_WIRE_BPM) {
      this.refuse(new GattError('heartRateMeasurement', `heart rate ${m.bpm} bpm is above the wire's ${MAX_WIRE_BPM}`));
      return [];
    }
    this.stats.ok.heartRateMeasurement++;
    return this.heartRateRecords(m, timestampMs);
  }

  rsc(data: Uint8Array, timestampMs: number): DeviceRecord[] {
    const m = this.decode('rscMeasurement', data, decodeRscMeasurement);
    if (m === undefined) return [];
    this.stats.ok.rscMeasurement++;
    return this.stepRecords(m, timestampMs);
  }

  /** Already-decoded measurements (for a transport that decodes itself, or tests). */
  heartRateRecords(m: HeartRateMeasurement, timestampMs: number): DeviceRecord[] {
    const confidence =
      m.bpm === 0 || m.sensorContact === 'notDetected' ? 0 : m.sensorContact === 'detected' ? 100 : this.unknownContactConfidence;
    const out: DeviceRecord[] = [{ type: 'heartRate', ...this.header(timestampMs), bpm: m.bpm, confidence }];
    const ms = m.rrIntervals1024.map((x) => Math.round((x * 1000) / 1024));
    for (let k = 0; k < ms.length; k += MAX_RR_INTERVALS) {
      out.push({ type: 'rrIntervals', ...this.header(timestampMs), intervalsMs: ms.slice(k, k + MAX_RR_INTERVALS) });
    }
    return out;
  }

  stepRecords(m: RscMeasurement, timestampMs: number): DeviceRecord[] {
    const prev = this.lastRscMs;
    this.lastRscMs = timestampMs;
    if (prev !== null) {
      const dt = timestampMs - prev;
      if (dt > 0 && dt <= this.maxGapMs) this.steps = (this.steps + (m.cadenceSpm * dt) / 60_000) % 2 ** 32;
    }
    return [{ type: 'steps', ...this.header(timestampMs), total: Math.floor(this.steps + 1e-9) % 2 ** 32 }];
  }

  private decode<T>(c: GattCharacteristic, data: Uint8Array, decode: (d: Uint8Array) => T): T | undefined {
    try {
      return decode(data);
    } catch (e) {
      if (!(e instanceof GattError)) throw e;
      this.refuse(e);
      return undefined;
    }
  }

  private refuse(e: GattError): void {
    this.stats.malformed[e.characteristic]++;
    this.stats.lastError = e.message;
    this.onError?.(e);
  }

  private header(timestampMs: number): { deviceId: number; seq: number; timestampMs: number } {
    const seq = this.seq;
    this.seq = seq === 0xffffffff ? 0 : seq + 1;
    return { deviceId: this.deviceId, seq, timestampMs };
  }
}

function checkInt(name: string, x: number, max: number): number {
  if (!Number.isInteger(x) || x < 0 || x > max) throw new RangeError(`GattRecordMapper option ${name}: expected an integer 0..${max}, got ${x}`);
  return x;
}
