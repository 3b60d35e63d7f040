/** Shared by the firmware-bindings tests: hex, fast-check arbitraries, the C driver's text format. */
import fc from 'fast-check';
import { LabelSource, cobsEncode, crc16, encodeFrame, encodeRecord, type DeviceRecord } from '../../firmware-bindings/index.ts';

export const SEED = 20261128;

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** Splits bytes at the given cut points (any order, duplicates fine). */
export function chunked(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  return out;
}

/** Non-empty 0x00-terminated segments, plus a non-empty unterminated tail: one outcome each. */
export function countSegments(bytes: Uint8Array): number {
  let n = 0;
  let len = 0;
  for (const b of bytes) {
    if (b === 0) {
      if (len > 0) n++;
      len = 0;
    } else len++;
  }
  return n + (len > 0 ? 1 : 0);
}

// ---- arbitraries: records exactly representable on the wire, so decode(encode(r)) deep-equals r.
const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const header = { deviceId: u32, seq: u32, timestampMs: fc.oneof(fc.maxSafeNat(), fc.integer({ min: 1.7e12, max: 1.8e12 })) };
const model = fc
  .string({ unit: fc.oneof(fc.constantFrom('\u0000', 'Ω', '€', '😀'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 20 })
  .filter((s) => Buffer.byteLength(s, 'utf8') <= 32);

export const recordArb: fc.Arbitrary<DeviceRecord> = fc.oneof(
  fc.record({ type: fc.constant('heartRate' as const), ...header, bpm: u16.map((x) => x / 10), confidence: fc.integer({ min: 0, max: 100 }) }),
  fc.record({ type: fc.constant('rrIntervals' as const), ...header, intervalsMs: fc.array(u16, { maxLength: 32 }) }),
  fc.record({ type: fc.constant('steps' as const), ...header, total: u32 }),
  fc.record({
    type: fc.constant('energyLabel' as const),
    ...header,
    kcalPerMin: u32.map((x) => x / 1000),
    durationS: u16,
    source: fc.constantFrom(LabelSource.ChestStrap, LabelSource.GymEquipment, LabelSource.Lab),
  }),
  fc.record({ type: fc.constant('battery' as const), ...header, percent: fc.integer({ min: 0, max: 100 }), millivolts: u16 }),
  fc.record({
    type: fc.constant('deviceInfo' as const),
    ...header,
    firmware: fc.tuple(u8, u8, u8),
    hardwareRevision: u8,
    model,
  }),
);

/** Bytes with many 0x00 (so they cut frames) and some long zero-free runs. */
export const noiseArb: fc.Arbitrary<Uint8Array> = fc
  .array(fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 6, arbitrary: u8 }), { maxLength: 120 })
  .chain((xs) => fc.boolean().map((long) => Uint8Array.from(long ? [...xs, ...new Array<number>(100).fill(0x55)] : xs)));

function withCrcFramed(raw: Uint8Array): Uint8Array {
  const c = crc16(raw);
  return Uint8Array.from([...cobsEncode(Uint8Array.from([...raw, c >> 8, c & 0xff])), 0]);
}

/**
 * Frames with a correct CRC but possibly wrong content, to exercise the version, type, length and
 * field checks: random bytes after a plausible header, or a real record with one byte replaced.
 */
export const craftedArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc
    .record({
      version: fc.oneof({ weight: 5, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: u8 }),
      type: fc.integer({ min: 0, max: 8 }),
      rest: fc.uint8Array({ minLength: 16, maxLength: 60 }),
      tsHigh: fc.oneof(fc.constant(0), fc.constant(0x1fffff), fc.constant(0x200000), u32),
    })
    .map(({ version, type, rest, tsHigh }) => {
      const raw = Uint8Array.from([version, type, ...rest]);
      raw[14] = tsHigh & 0xff;
      raw[15] = (tsHigh >>> 8) & 0xff;
      raw[16] = (tsHigh >>> 16) & 0xff;
      raw[17] = tsHigh >>> 24;
      return withCrcFramed(raw);
    }),
  fc.tuple(recordArb, fc.nat(), u8).map(([rec, at, byte]) => {
    const raw = encodeRecord(rec).slice(0, -2);
    // Bias towards the payload, where the field checks live.
    const i = at % 2 === 0 ? 18 + (at % Math.max(1, raw.length - 18)) : at % raw.length;
    raw[Math.min(i, raw.length - 1)] = byte;
    return withCrcFramed(raw);
  }),
);

/** A stream of frames, garbage and CRC-valid-but-wrong frames, in any order. */
export const mixedStreamArb: fc.Arbitrary<Uint8Array[]> = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: recordArb.map((r) => encodeFrame(r)) },
    { weight: 2, arbitrary: noiseArb },
    { weight: 2, arbitrary: craftedArb },
  ),
  { maxLength: 25 },
);

// ---- the C driver's text format (firmware-bindings/c/test_vectors.c, top comment).

/** The C driver's line for a record, or undefined when a field does not fit the C struct's type. */
export function recordToLine(r: DeviceRecord): string | undefined {
  const fits = (x: unknown, max: number): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= max;
  const rounded = (x: unknown, scale: number): number => (typeof x === 'number' ? Math.round(x * scale) : NaN);
  if (!fits(r.deviceId, 0xffffffff) || !fits(r.seq, 0xffffffff) || !fits(r.timestampMs, Number.MAX_SAFE_INTEGER * 2)) return undefined;
  const head = `${r.type} ${r.deviceId} ${r.seq} ${BigInt(r.timestampMs)}`;
  switch (r.type) {
    case 'heartRate': {
      const b = rounded(r.bpm, 10);
      return fits(b, 0xffff) && fits(r.confidence, 0xff) ? `${head} ${b} ${r.confidence}` : undefined;
    }
    case 'rrIntervals':
      return Array.isArray(r.intervalsMs) && r.intervalsMs.length <= 0xff && r.intervalsMs.every((x) => fits(x, 0xffff))
        ? `${head} ${[r.intervalsMs.length, ...r.intervalsMs].join(' ')}`
        : undefined;
    case 'steps':
      return fits(r.total, 0xffffffff) ? `${head} ${r.total}` : undefined;
    case 'energyLabel': {
      const k = rounded(r.kcalPerMin, 1000);
      return fits(k, 0xffffffff) && fits(r.durationS, 0xffff) && fits(r.source, 0xff) ? `${head} ${k} ${r.durationS} ${r.source}` : undefined;
    }
    case 'battery':
      return fits(r.percent, 0xff) && fits(r.millivolts, 0xffff) ? `${head} ${r.percent} ${r.millivolts}` : undefined;
    case 'deviceInfo': {
      const fw = r.firmware;
      if (!Array.isArray(fw) || fw.length !== 3 || !fw.every((x) => fits(x, 0xff)) || !fits(r.hardwareRevision, 0xff)) return undefined;
      if (typeof r.model !== 'string' || /\p{Surrogate}/u.test(r.model)) return undefined;
      const m = Buffer.from(r.model, 'utf8');
      return m.length <= 33 ? `${head} ${fw.join(' ')} ${r.hardwareRevision} ${m.length ? m.toString('hex') : '-'}` : undefined;
    }
    default:
      // An unknown type name: the driver gives it an unknown type code.
      return head;
  }
}
