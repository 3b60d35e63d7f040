/**
 * Record -> bytes (layout in wire-format.md). Every field is range-checked first, so a bad value
 * throws WireEncodeError naming the field instead of being silently truncated on the wire.
 */
import type { DeviceRecord, DeviceRecordKind } from './records.ts';
import { LabelSource, PROTOCOL_VERSION } from './records.ts';
import {
  CODE_BY_KIND,
  CRC_LENGTH,
  HEADER_LENGTH,
  MAX_MODEL_BYTES,
  MAX_RECORD_LENGTH,
  MAX_RR_INTERVALS,
  MAX_TIMESTAMP_MS,
  cobsMaxEncodedLength,
} from './layout.ts';
import { crc16 } from './crc16.ts';
import { cobsEncodeInto } from './cobs.ts';
import { WireEncodeError } from './errors.ts';

const utf8 = new TextEncoder();

/** Header + payload + CRC-16 (big-endian), not yet COBS-framed. */
export function encodeRecord(rec: DeviceRecord): Uint8Array {
  return scratch.slice(0, writeRecord(rec, scratch, scratchView));
}

/** COBS(header + payload + CRC) followed by the 0x00 delimiter: the bytes a device sends. */
export function encodeFrame(rec: DeviceRecord): Uint8Array {
  const n = writeRecord(rec, scratch, scratchView);
  const m = cobsEncodeInto(scratch, 0, n, frameScratch, 0);
  frameScratch[m] = 0;
  return frameScratch.slice(0, m + 1);
}

/** Writes header + payload + CRC into out (at least MAX_RECORD_LENGTH bytes); returns the length. */
export function encodeRecordInto(rec: DeviceRecord, out: Uint8Array): number {
  if (out.length < MAX_RECORD_LENGTH) throw new RangeError(`encodeRecordInto: out has ${out.length} bytes, needs ${MAX_RECORD_LENGTH}`);
  return writeRecord(rec, out, new DataView(out.buffer, out.byteOffset, out.byteLength));
}

// Encoding is synchronous and never re-entered, so one scratch buffer serves every call and each
// result costs a single allocation (the returned copy).
const scratch = new Uint8Array(MAX_RECORD_LENGTH);
const scratchView = new DataView(scratch.buffer);
const frameScratch = new Uint8Array(cobsMaxEncodedLength(MAX_RECORD_LENGTH) + 1);

function writeRecord(rec: DeviceRecord, out: Uint8Array, view: DataView): number {
  if (typeof rec !== 'object' || rec === null) throw new WireEncodeError('record', `expected an object, got ${describe(rec)}`);
  const kind = rec.type as DeviceRecordKind;
  const code = Object.hasOwn(CODE_BY_KIND, kind) ? CODE_BY_KIND[kind] : undefined;
  if (code === undefined) {
    throw new WireEncodeError('record.type', `unknown record type ${describe(kind)}; expected one of ${Object.keys(CODE_BY_KIND).join(', ')}`);
  }
  out[0] = PROTOCOL_VERSION;
  out[1] = code;
  // Field paths are built only on failure: this runs for every frame a simulator sends.
  if (!isUint(rec.deviceId, U32)) throw uintError(rec.deviceId, U32, `${kind}.deviceId`);
  if (!isUint(rec.seq, U32)) throw uintError(rec.seq, U32, `${kind}.seq`);
  const ts = rec.timestampMs;
  if (!isUint(ts, MAX_TIMESTAMP_MS)) {
    throw new WireEncodeError(`${kind}.timestampMs`, `expected integer milliseconds 0..2^53-1, got ${describe(ts)}`);
  }
  view.setUint32(2, rec.deviceId, true);
  view.setUint32(6, rec.seq, true);
  view.setUint32(10, ts % 2 ** 32, true);
  view.setUint32(14, Math.floor(ts / 2 ** 32), true);
  let p = HEADER_LENGTH;
  switch (rec.type) {
    case 'heartRate':
      view.setUint16(p, scaled(rec.bpm, 10, 0xffff, 'heartRate.bpm'), true);
      out[p + 2] = upTo(rec.confidence, 100, 'heartRate.confidence');
      p += 3;
      break;
    case 'rrIntervals': {
      const xs = rec.intervalsMs;
      if (!Array.isArray(xs)) throw new WireEncodeError('rrIntervals.intervalsMs', `expected an array, got ${describe(xs)}`);
      if (xs.length > MAX_RR_INTERVALS) {
        throw new WireEncodeError('rrIntervals.intervalsMs', `${xs.length} intervals; at most ${MAX_RR_INTERVALS} fit one record`);
      }
      out[p++] = xs.length;
      for (let i = 0; i < xs.length; i++, p += 2) {
        const x = xs[i];
        if (!isUint(x, U16)) throw uintError(x, U16, `rrIntervals.intervalsMs[${i}]`);
        view.setUint16(p, x, true);
      }
      break;
    }
    case 'steps':
      view.setUint32(p, uint(rec.total, 32, 'steps.total'), true);
      p += 4;
      break;
    case 'energyLabel':
      view.setUint32(p, scaled(rec.kcalPerMin, 1000, 0xffffffff, 'energyLabel.kcalPerMin'), true);
      view.setUint16(p + 4, uint(rec.durationS, 16, 'energyLabel.durationS'), true);
      out[p + 6] = labelSource(rec.source);
      p += 7;
      break;
    case 'battery':
      out[p] = upTo(rec.percent, 100, 'battery.percent');
      view.setUint16(p + 1, uint(rec.millivolts, 16, 'battery.millivolts'), true);
      p += 3;
      break;
    case 'deviceInfo': {
      const fw = rec.firmware;
      if (!Array.isArray(fw) || fw.length !== 3) {
        throw new WireEncodeError('deviceInfo.firmware', `expected [major, minor, patch], got ${describe(fw)}`);
      }
      out[p] = uint(fw[0], 8, 'deviceInfo.firmware[0]');
      out[p + 1] = uint(fw[1], 8, 'deviceInfo.firmware[1]');
      out[p + 2] = uint(fw[2], 8, 'deviceInfo.firmware[2]');
      out[p + 3] = uint(rec.hardwareRevision, 8, 'deviceInfo.hardwareRevision');
      const model = modelBytes(rec.model);
      out[p + 4] = model.length;
      out.set(model, p + 5);
      p += 5 + model.length;
      break;
    }
  }
  view.setUint16(p, crc16(out, 0, p), false);
  return p + CRC_LENGTH;
}

const U16 = 0xffff;
const U32 = 0xffffffff;

function isUint(x: unknown, max: number): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= max;
}

function uintError(x: unknown, max: number, field: string): WireEncodeError {
  return new WireEncodeError(field, `expected an integer 0..${max}, got ${describe(x)}`);
}

function uint(x: unknown, bits: 8 | 16 | 32, field: string): number {
  const max = 2 ** bits - 1;
  if (!isUint(x, max)) throw uintError(x, max, field);
  return x;
}

function upTo(x: unknown, max: number, field: string): number {
  if (!isUint(x, max)) throw uintError(x, max, field);
  return x;
}

/** Fixed-point fields: the value is rounded to the wire resolution (1/scale). */
function scaled(x: unknown, scale: number, maxRaw: number, field: string): number {
  const raw = typeof x === 'number' && Number.isFinite(x) ? Math.round(x * scale) : NaN;
  if (!(raw >= 0 && raw <= maxRaw)) {
    throw new WireEncodeError(field, `expected a number 0..${maxRaw / scale} (step ${1 / scale}), got ${describe(x)}`);
  }
  return raw;
}

const SOURCES = new Set<unknown>(Object.values(LabelSource));

function labelSource(x: unknown): number {
  if (!SOURCES.has(x)) {
    throw new WireEncodeError('energyLabel.source', `expected a LabelSource (${[...SOURCES].join(', ')}), got ${describe(x)}`);
  }
  return x as number;
}

function modelBytes(model: unknown): Uint8Array {
  if (typeof model !== 'string') throw new WireEncodeError('deviceInfo.model', `expected a string, got ${describe(model)}`);
  // TextEncoder would quietly turn a lone surrogate into U+FFFD; refuse instead so decode(encode(r)) = r.
  for (let i = 0; i < model.length; i++) {
    const c = model.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = model.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) throw new WireEncodeError('deviceInfo.model', `lone UTF-16 surrogate at index ${i}`);
  }
  const bytes = utf8.encode(model);
  if (bytes.length > MAX_MODEL_BYTES) {
    throw new WireEncodeError('deviceInfo.model', `${bytes.length} UTF-8 bytes; at most ${MAX_MODEL_BYTES} fit`);
  }
  return bytes;
}

function describe(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x);
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (x === null) return 'null';
  if (typeof x === 'object') return 'an object';
  return String(x);
}
