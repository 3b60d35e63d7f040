/**
 * Bytes -> record, for one frame already COBS-decoded. The checks run in a fixed order that the
 * C decoder follows too (wire-format.md, "Decoding"): length floor, CRC, version, type, payload
 * length, field ranges. Nothing past the CRC is trusted before the CRC passes.
 */
import type { DeviceRecord, LabelSourceCode } from './records.ts';
import { LabelSource, PROTOCOL_VERSION } from './records.ts';
import { CRC_LENGTH, HEADER_LENGTH, MAX_MODEL_BYTES, MAX_RR_INTERVALS, MIN_RECORD_LENGTH, PAYLOAD_LENGTH, kindOfCode } from './layout.ts';
import { crc16 } from './crc16.ts';
import { cobsDecode } from './cobs.ts';
import { WireError, type WireErrorKind } from './errors.ts';

/** Why readRecord refused a frame; a plain object so the streaming decoder need not throw. */
export interface WireFailure {
  kind: WireErrorKind;
  detail: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes header + payload + CRC (no COBS, no delimiter). Throws WireError (kind + detail). */
export function decodeRecord(bytes: Uint8Array): DeviceRecord {
  const r = readRecord(bytes, bytes.length);
  if (isFailure(r)) throw new WireError(r.kind, r.detail);
  return r;
}

/** Decodes one COBS frame, with or without its trailing 0x00. Throws WireError. */
export function decodeFrame(frame: Uint8Array): DeviceRecord {
  const end = frame.length > 0 && frame[frame.length - 1] === 0 ? frame.length - 1 : frame.length;
  return decodeRecord(cobsDecode(frame.subarray(0, end)));
}

export function isFailure(r: DeviceRecord | WireFailure): r is WireFailure {
  return !('type' in r);
}

/** Decodes buf[0, len); returns the record or why it was refused. */
export function readRecord(buf: Uint8Array, len: number): DeviceRecord | WireFailure {
  if (len < MIN_RECORD_LENGTH) return fail('length', `${len} bytes is too short: header + CRC need ${MIN_RECORD_LENGTH}`);
  const body = len - CRC_LENGTH;
  const expected = crc16(buf, 0, body);
  const got = (buf[body] << 8) | buf[body + 1];
  if (got !== expected) return fail('crc', `CRC 0x${hex4(got)} in frame, 0x${hex4(expected)} computed over ${body} bytes`);
  if (buf[0] !== PROTOCOL_VERSION) return fail('version', `protocol version ${buf[0]}, this decoder speaks ${PROTOCOL_VERSION}`);
  const kind = kindOfCode(buf[1]);
  if (kind === undefined) return fail('unknownType', `record type code ${buf[1]}`);
  const n = body - HEADER_LENGTH;
  const p = HEADER_LENGTH;

  // Payload length first (the frame's shape), then values; same order as the C decoder.
  switch (kind) {
    case 'heartRate':
    case 'steps':
    case 'energyLabel':
    case 'battery':
      if (n !== PAYLOAD_LENGTH[kind]) return fail('length', `${kind} payload is ${n} bytes, expected ${PAYLOAD_LENGTH[kind]}`);
      break;
    case 'rrIntervals': {
      if (n < 1) return fail('length', 'rrIntervals payload is empty, expected a count byte');
      const count = buf[p];
      if (count > MAX_RR_INTERVALS) return fail('length', `rrIntervals count ${count} exceeds ${MAX_RR_INTERVALS}`);
      if (n !== 1 + 2 * count) return fail('length', `rrIntervals payload is ${n} bytes, count ${count} needs ${1 + 2 * count}`);
      break;
    }
    case 'deviceInfo': {
      if (n < PAYLOAD_LENGTH.deviceInfoMin) return fail('length', `deviceInfo payload is ${n} bytes, at least ${PAYLOAD_LENGTH.deviceInfoMin} needed`);
      const m = buf[p + 4];
      if (m > MAX_MODEL_BYTES) return fail('length', `deviceInfo model length ${m} exceeds ${MAX_MODEL_BYTES}`);
      if (n !== 5 + m) return fail('length', `deviceInfo payload is ${n} bytes, model length ${m} needs ${5 + m}`);
      break;
    }
  }

  const deviceId = u32(buf, 2);
  const seq = u32(buf, 6);
  const tsHigh = u32(buf, 14);
  if (tsHigh > 0x1fffff) return fail('field', `timestampMs is ${tsHigh} * 2^32 + ..., at or above 2^53`);
  const timestampMs = tsHigh * 2 ** 32 + u32(buf, 10);

  switch (kind) {
    case 'heartRate': {
      const confidence = buf[p + 2];
      if (confidence > 100) return fail('field', `heartRate.confidence ${confidence} exceeds 100`);
      return { type: kind, deviceId, seq, timestampMs, bpm: u16(buf, p) / 10, confidence };
    }
    case 'rrIntervals': {
      const count = buf[p];
      const intervalsMs = new Array<number>(count);
      for (let i = 0; i < count; i++) intervalsMs[i] = u16(buf, p + 1 + 2 * i);
      return { type: kind, deviceId, seq, timestampMs, intervalsMs };
    }
    case 'steps':
      return { type: kind, deviceId, seq, timestampMs, total: u32(buf, p) };
    case 'energyLabel': {
      const source = buf[p + 6];
      if (!isLabelSource(source)) return fail('field', `energyLabel.source ${source} is not a LabelSource`);
      return { type: kind, deviceId, seq, timestampMs, kcalPerMin: u32(buf, p) / 1000, durationS: u16(buf, p + 4), source };
    }
    case 'battery': {
      const percent = buf[p];
      if (percent > 100) return fail('field', `battery.percent ${percent} exceeds 100`);
      return { type: kind, deviceId, seq, timestampMs, percent, millivolts: u16(buf, p + 1) };
    }
    case 'deviceInfo': {
      let model: string;
      try {
        model = utf8.decode(buf.subarray(p + 5, p + 5 + buf[p + 4]));
      } catch {
        return fail('field', 'deviceInfo.model is not valid UTF-8');
      }
      return {
        type: kind,
        deviceId,
        seq,
        timestampMs,
        firmware: [buf[p], buf[p + 1], buf[p + 2]],
        hardwareRevision: buf[p + 3],
        model,
      };
    }
  }
}

function isLabelSource(x: number): x is LabelSourceCode {
  return x === LabelSource.ChestStrap || x === LabelSource.GymEquipment || x === LabelSource.Lab;
}

function fail(kind: WireErrorKind, detail: string): WireFailure {
  return { kind, detail };
}

function u16(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8);
}

function u32(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

function hex4(x: number): string {
  return x.toString(16).padStart(4, '0');
}
