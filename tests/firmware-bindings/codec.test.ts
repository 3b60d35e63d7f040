import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  LabelSource,
  MAX_ENCODED_FRAME_LENGTH,
  MAX_RECORD_LENGTH,
  PROTOCOL_VERSION,
  RecordType,
  WireEncodeError,
  WireError,
  crc16,
  decodeFrame,
  decodeRecord,
  encodeFrame,
  encodeRecord,
  type DeviceRecord,
} from '../../firmware-bindings/index.ts';
import { loadFixture } from '../helpers/fixtures.ts';

const vectors = loadFixture<typeof import('../fixtures/wire-vectors.json')>('wire-vectors.json');
import { SEED, hex, recordArb, unhex } from './helpers.ts';

const T = 1_732_000_000_000;

function encodeError(r: unknown): WireEncodeError {
  try {
    encodeRecord(r as DeviceRecord);
  } catch (e) {
    if (e instanceof WireEncodeError) return e;
    throw e;
  }
  throw new Error('encodeRecord accepted an invalid record');
}

function decodeError(bytes: Uint8Array): WireError {
  try {
    decodeRecord(bytes);
  } catch (e) {
    if (e instanceof WireError) return e;
    throw e;
  }
  throw new Error('decodeRecord accepted invalid bytes');
}

describe('byte layout (wire-format.md), built by hand', () => {
  it('lays out a heart-rate record: header LE, payload LE, CRC BE', () => {
    const rec: DeviceRecord = { type: 'heartRate', deviceId: 0x11223344, seq: 0xa1b2c3d4, timestampMs: 0x0102_0304_0506, bpm: 72.5, confidence: 95 };
    const b = new Uint8Array(23);
    const v = new DataView(b.buffer);
    b[0] = 1;
    b[1] = RecordType.HeartRate;
    v.setUint32(2, 0x11223344, true);
    v.setUint32(6, 0xa1b2c3d4, true);
    v.setBigUint64(10, 0x0102_0304_0506n, true);
    v.setUint16(18, 725, true);
    b[20] = 95;
    v.setUint16(21, crc16(b.subarray(0, 21)), false);
    expect(hex(encodeRecord(rec))).toBe(hex(b));
    expect(hex(encodeRecord(rec).subarray(0, 8))).toBe('010144332211d4c3');
  });

  it('lays out device info: versions, hw rev, length-prefixed UTF-8 model', () => {
    const rec: DeviceRecord = { type: 'deviceInfo', deviceId: 1, seq: 2, timestampMs: 3, firmware: [4, 5, 6], hardwareRevision: 7, model: 'é' };
    expect(hex(encodeRecord(rec).subarray(18, 25))).toBe('04050607' + '02' + 'c3a9');
  });

  it('frames as COBS(record) followed by exactly one 0x00', () => {
    const rec: DeviceRecord = { type: 'steps', deviceId: 0, seq: 0, timestampMs: 0, total: 0 };
    const f = encodeFrame(rec);
    expect(f[f.length - 1]).toBe(0);
    expect(f.subarray(0, -1).includes(0)).toBe(false);
    expect(decodeFrame(f)).toEqual(rec);
  });

  it('keeps the size constants in step with the layout', () => {
    expect(PROTOCOL_VERSION).toBe(1);
    expect(MAX_RECORD_LENGTH).toBe(85);
    expect(MAX_ENCODED_FRAME_LENGTH).toBe(86);
    const longest: DeviceRecord = { type: 'rrIntervals', deviceId: 1, seq: 1, timestampMs: T, intervalsMs: new Array<number>(32).fill(0x0101) };
    expect(encodeRecord(longest).length).toBe(MAX_RECORD_LENGTH);
    expect(encodeFrame(longest).length).toBe(MAX_ENCODED_FRAME_LENGTH + 1);
  });
});

describe('shared vectors', () => {
  it('encodes every vector record to its committed bytes and decodes them back', () => {
    expect(new Set(vectors.records.map((v) => v.record.type)).size).toBe(6);
    for (const v of vectors.records) {
      const rec = v.record as DeviceRecord;
      expect(hex(encodeRecord(rec)), v.name).toBe(v.unframed);
      expect(hex(encodeFrame(rec)), v.name).toBe(v.frame);
      expect(decodeRecord(unhex(v.unframed)), v.name).toEqual(rec);
      expect(decodeFrame(unhex(v.frame)), v.name).toEqual(rec);
    }
  });

  it('refuses every invalid vector record, naming the field', () => {
    for (const v of vectors.invalidRecords) {
      const e = encodeError(v.record);
      expect(e.field, v.name).toBe(v.field);
      expect(e.message.startsWith(`${v.field}: `), v.name).toBe(true);
    }
  });

  it('rejects every bad vector frame with its kind', () => {
    for (const v of vectors.badFrames) expect(decodeError(unhex(v.bytes)).kind, v.name).toBe(v.kind);
  });
});

describe('round trip', () => {
  it('decode(encode(r)) equals r for any wire-representable record', () => {
    fc.assert(
      fc.property(recordArb, (rec) => {
        expect(decodeRecord(encodeRecord(rec))).toEqual(rec);
        expect(decodeFrame(encodeFrame(rec))).toEqual(rec);
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('rounds fixed-point fields to the wire resolution', () => {
    const hr = decodeRecord(encodeRecord({ type: 'heartRate', deviceId: 1, seq: 1, timestampMs: T, bpm: 72.34, confidence: 50 }));
    expect(hr).toMatchObject({ bpm: 72.3 });
    const label = decodeRecord(
      encodeRecord({ type: 'energyLabel', deviceId: 1, seq: 1, timestampMs: T, kcalPerMin: 5.0006, durationS: 60, source: LabelSource.Lab }),
    );
    expect(label).toMatchObject({ kcalPerMin: 5.001 });
  });

  it('keeps a leading BOM in the model (the TextDecoder must not eat it)', () => {
    const rec: DeviceRecord = { type: 'deviceInfo', deviceId: 1, seq: 1, timestampMs: T, firmware: [1, 0, 0], hardwareRevision: 1, model: '\uFEFFx' };
    expect(decodeRecord(encodeRecord(rec))).toEqual(rec);
  });
});

describe('clear errors', () => {
  const hr: DeviceRecord = { type: 'heartRate', deviceId: 1, seq: 1, timestampMs: T, bpm: 60, confidence: 90 };

  it('names the field and the value when encoding', () => {
    expect(encodeError({ ...hr, confidence: 101 }).message).toBe('heartRate.confidence: expected an integer 0..100, got 101');
    expect(encodeError({ ...hr, bpm: NaN }).message).toMatch(/^heartRate\.bpm: expected a number 0\.\.6553\.5 \(step 0\.1\), got NaN/);
    expect(encodeError({ ...hr, seq: -1 }).message).toBe('heartRate.seq: expected an integer 0..4294967295, got -1');
    expect(encodeError(null).field).toBe('record');
    expect(encodeError({ type: 'rrIntervals', deviceId: 1, seq: 1, timestampMs: T, intervalsMs: 'x' }).field).toBe('rrIntervals.intervalsMs');
    expect(encodeError({ type: 'deviceInfo', deviceId: 1, seq: 1, timestampMs: T, firmware: [1, 2, 3], hardwareRevision: 1, model: 5 }).message).toBe(
      'deviceInfo.model: expected a string, got 5',
    );
    expect(encodeError({ ...hr, type: 'toString' }).field).toBe('record.type');
  });

  it('names the kind and the detail when decoding', () => {
    const good = encodeRecord(hr);
    const badCrc = good.slice();
    badCrc[3] ^= 0x40;
    expect(decodeError(badCrc).message).toMatch(/^crc: CRC 0x[0-9a-f]{4} in frame, 0x[0-9a-f]{4} computed over 21 bytes$/);
    expect(decodeError(good.subarray(0, 10)).message).toBe('length: 10 bytes is too short: header + CRC need 20');
    expect(() => decodeFrame(Uint8Array.of(0x05, 0x01, 0x00))).toThrow(/^cobs: /);
  });

  it('decodeFrame accepts a frame with or without its delimiter', () => {
    const f = encodeFrame(hr);
    expect(decodeFrame(f)).toEqual(hr);
    expect(decodeFrame(f.subarray(0, -1))).toEqual(hr);
  });
});
