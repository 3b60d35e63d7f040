/**
 * Heart Rate Measurement (0x2A37) and RSC Measurement (0x2A53) codecs against payloads worked out
 * from the field definitions (GATT Specification Supplement §3.113; RSC Measurement), the example in
 * shared/notes/edge-stack.md §5, random round trips, and malformed payloads.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  GattEncodeError,
  GattError,
  GattRecordMapper,
  decodeHeartRateMeasurement,
  decodeRscMeasurement,
  encodeHeartRateMeasurement,
  encodeRscMeasurement,
  type HeartRateMeasurement,
  type RscMeasurement,
} from '../../firmware-bindings/index.ts';

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('RSC Measurement 0x2A53', () => {
  it('decodes the reference payload 07 00 03 AA 78 00 E8 03 00 00: 3 m/s, 170 /min, 1.20 m, 100.0 m, running', () => {
    const m = decodeRscMeasurement(bytes('07 00 03 AA 78 00 E8 03 00 00'));
    expect(m).toEqual({ speedMps: 3, cadenceSpm: 170, strideLengthM: 1.2, totalDistanceM: 100, running: true });
    expect(hex(encodeRscMeasurement(m))).toBe('070003aa7800e8030000');
  });

  it('decodes the optional fields only when their flags are set', () => {
    // flags 0: walking, no stride, no distance; 1.5 m/s = 0x0180, cadence 110
    expect(decodeRscMeasurement(bytes('00 80 01 6E'))).toEqual({ speedMps: 1.5, cadenceSpm: 110, running: false });
    // flags 2: total distance only, 0xFFFFFFFF tenths = 429 496 729.5 m (the top byte must not go negative)
    expect(decodeRscMeasurement(bytes('02 00 00 00 FF FF FF FF'))).toEqual({ speedMps: 0, cadenceSpm: 0, totalDistanceM: 429496729.5, running: false });
    // reserved bits 3..7 are ignored
    expect(decodeRscMeasurement(bytes('F9 00 01 00 64 00')).strideLengthM).toBe(1);
  });

  it('round-trips every measurement representable at the on-air resolutions', () => {
    const arb: fc.Arbitrary<RscMeasurement> = fc.record(
      {
        speedMps: fc.integer({ min: 0, max: 0xffff }).map((x) => x / 256),
        cadenceSpm: fc.integer({ min: 0, max: 255 }),
        strideLengthM: fc.integer({ min: 0, max: 0xffff }).map((x) => x / 100),
        totalDistanceM: fc.integer({ min: 0, max: 0xffffffff }).map((x) => x / 10),
        running: fc.boolean(),
      },
      { requiredKeys: ['speedMps', 'cadenceSpm', 'running'] },
    );
    fc.assert(fc.property(arb, (m) => {
      expect(decodeRscMeasurement(encodeRscMeasurement(m))).toEqual(m);
    }), { numRuns: 500 });
  });

  it('refuses short, truncated and over-long payloads with an error that names the problem', () => {
    expect(() => decodeRscMeasurement(bytes('00 80 01'))).toThrow(/rscMeasurement: 3 byte\(s\); flags, speed and cadence need 4/);
    expect(() => decodeRscMeasurement(bytes('03 00 03 AA 78 00'))).toThrow(/flags announce 10 bytes but only 6 arrived/);
    expect(() => decodeRscMeasurement(bytes('00 00 03 AA 78'))).toThrow(/1 unexpected trailing byte/);
    expect(() => decodeRscMeasurement(new Uint8Array())).toThrow(GattError);
  });

  it('refuses to encode values that do not fit, naming the field', () => {
    expect(() => encodeRscMeasurement({ speedMps: 256, cadenceSpm: 0, running: false })).toThrow(/speedMps: expected 0\.\.255\.99/);
    expect(() => encodeRscMeasurement({ speedMps: 1, cadenceSpm: 300, running: false })).toThrow(GattEncodeError);
    expect(() => encodeRscMeasurement({ speedMps: 1, cadenceSpm: 100, strideLengthM: -1, running: false })).toThrow(/strideLengthM/);
  });
});

describe('Heart Rate Measurement 0x2A37', () => {
  const cases: Array<[string, string, HeartRateMeasurement]> = [
    ['uint8 72 bpm, contact not supported', '00 48', { bpm: 72, format: 'uint8', sensorContact: 'notSupported', rrIntervals1024: [] }],
    ['bit 1 without bit 2 still means not supported', '02 48', { bpm: 72, format: 'uint8', sensorContact: 'notSupported', rrIntervals1024: [] }],
    ['contact supported, not detected', '04 48', { bpm: 72, format: 'uint8', sensorContact: 'notDetected', rrIntervals1024: [] }],
    ['contact detected', '06 48', { bpm: 72, format: 'uint8', sensorContact: 'detected', rrIntervals1024: [] }],
    ['uint16 328 bpm', '01 48 01', { bpm: 328, format: 'uint16', sensorContact: 'notSupported', rrIntervals1024: [] }],
    ['uint16 carrying a small value', '07 48 00', { bpm: 72, format: 'uint16', sensorContact: 'detected', rrIntervals1024: [] }],
    ['energy expended 200 kJ', '08 48 C8 00', { bpm: 72, format: 'uint8', sensorContact: 'notSupported', energyExpendedKj: 200, rrIntervals1024: [] }],
    ['one RR interval of 1024/1024 s', '10 48 00 04', { bpm: 72, format: 'uint8', sensorContact: 'notSupported', rrIntervals1024: [1024] }],
    [
      'everything: uint16 HR, contact, energy, two RR intervals',
      '1F 90 00 34 12 00 04 00 03',
      { bpm: 144, format: 'uint16', sensorContact: 'detected', energyExpendedKj: 0x1234, rrIntervals1024: [1024, 768] },
    ],
    ['reserved bits 5..7 are ignored', 'E6 48', { bpm: 72, format: 'uint8', sensorContact: 'detected', rrIntervals1024: [] }],
  ];
  for (const [name, payload, expected] of cases) {
    it(`decodes ${payload}: ${name}`, () => expect(decodeHeartRateMeasurement(bytes(payload))).toEqual(expected));
  }

  it('encodes to the same bytes it decodes (reserved bits aside)', () => {
    for (const [, payload, m] of cases) {
      const b = bytes(payload);
      b[0] &= 0x1f;
      if ((b[0] & 0x06) === 0x02) b[0] &= ~0x02; // "not supported" is sent as 00
      expect(hex(encodeHeartRateMeasurement(m))).toBe(hex(b));
    }
  });

  it('round-trips random measurements in both value formats', () => {
    const arb = fc
      .record(
        {
          bpm: fc.integer({ min: 0, max: 0xffff }),
          wide: fc.boolean(),
          sensorContact: fc.constantFrom('notSupported' as const, 'notDetected' as const, 'detected' as const),
          energyExpendedKj: fc.integer({ min: 0, max: 0xffff }),
          rrIntervals1024: fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 9 }),
        },
        { requiredKeys: ['bpm', 'wide', 'sensorContact', 'rrIntervals1024'] },
      )
      .map(({ wide, ...m }): HeartRateMeasurement => ({ ...m, format: wide || m.bpm > 255 ? 'uint16' : 'uint8' }));
    fc.assert(fc.property(arb, (m) => {
      expect(decodeHeartRateMeasurement(encodeHeartRateMeasurement(m))).toEqual(m);
    }), { numRuns: 500 });
  });

  it('refuses malformed payloads, naming what is wrong', () => {
    expect(() => decodeHeartRateMeasurement(bytes('06'))).toThrow(/heartRateMeasurement: 1 byte\(s\); at least flags and a uint8 heart rate/);
    expect(() => decodeHeartRateMeasurement(bytes('01 48'))).toThrow(/uint16 heart rate but only 1 byte/);
    expect(() => decodeHeartRateMeasurement(bytes('08 48 C8'))).toThrow(/Energy Expended is present but only 1 byte/);
    expect(() => decodeHeartRateMeasurement(bytes('10 48'))).toThrow(/RR-Interval is present but no interval follows/);
    expect(() => decodeHeartRateMeasurement(bytes('10 48 00 04 01'))).toThrow(/3 byte\(s\), not a whole number of uint16/);
    expect(() => decodeHeartRateMeasurement(bytes('00 48 00'))).toThrow(/1 unexpected trailing byte/);
    expect(() => decodeHeartRateMeasurement(bytes('00 48 00'))).toThrow(/payload 004800/);
  });

  it('refuses to encode values that do not fit, naming the field', () => {
    expect(() => encodeHeartRateMeasurement({ bpm: 300, format: 'uint8', sensorContact: 'detected', rrIntervals1024: [] })).toThrow(/bpm: 300 does not fit the uint8/);
    expect(() => encodeHeartRateMeasurement({ bpm: 70, sensorContact: 'detected', rrIntervals1024: [1, 70000] })).toThrow(/rrIntervals1024\[1\]/);
    expect(() => encodeHeartRateMeasurement({ bpm: 70.5, sensorContact: 'detected', rrIntervals1024: [] })).toThrow(/bpm: expected an integer/);
  });
});

describe('GattRecordMapper: notifications to DeviceRecords', () => {
  const T0 = 1_750_000_000_000;

  it('maps heart rate with confidence from sensor contact and RR intervals to milliseconds', () => {
    const mapper = new GattRecordMapper({ deviceId: 42, firstSeq: 7 });
    const recs = mapper.notification('2A37', bytes('16 48 00 04 00 03'), T0);
    expect(recs).toEqual([
      { type: 'heartRate', deviceId: 42, seq: 7, timestampMs: T0, bpm: 72, confidence: 100 },
      { type: 'rrIntervals', deviceId: 42, seq: 8, timestampMs: T0, intervalsMs: [1000, 750] },
    ]);
    expect(mapper.heartRate(bytes('04 48'), T0 + 1000)[0]).toMatchObject({ confidence: 0, seq: 9 });
    expect(mapper.heartRate(bytes('00 48'), T0 + 2000)[0]).toMatchObject({ confidence: 75 });
    expect(mapper.heartRate(bytes('06 00'), T0 + 3000)[0]).toMatchObject({ bpm: 0, confidence: 0 });
    // energy expended is decoded but produces no record (see gatt-records.ts)
    expect(mapper.heartRate(bytes('0E 48 C8 00'), T0 + 4000).map((r) => r.type)).toEqual(['heartRate']);
  });

  it('integrates cadence into a cumulative step count (right-endpoint rule, gaps not invented)', () => {
    const mapper = new GattRecordMapper({ deviceId: 1 });
    const rsc = (cadence: number) => encodeRscMeasurement({ speedMps: 1, cadenceSpm: cadence, running: false });
    expect(mapper.rsc(rsc(170), T0)).toEqual([{ type: 'steps', deviceId: 1, seq: 0, timestampMs: T0, total: 0 }]); // anchor only
    expect(mapper.rsc(rsc(120), T0 + 1000)[0]).toMatchObject({ total: 2 }); // 120/min over 1 s
    expect(mapper.rsc(rsc(90), T0 + 3000)[0]).toMatchObject({ total: 5 }); // + 90/min over 2 s
    expect(mapper.rsc(rsc(100), T0 + 3500)[0]).toMatchObject({ total: 5 }); // + 0.83: floor keeps 5
    expect(mapper.stepsTotal).toBeCloseTo(5 + 100 / 120, 9);
    expect(mapper.rsc(rsc(100), T0 + 60_000)[0]).toMatchObject({ total: 5 }); // a 56.5-s gap adds nothing
    expect(mapper.rsc(rsc(60), T0 + 61_000)[0]).toMatchObject({ total: 6 });
  });

  it('counts malformed payloads by characteristic, reports them, and keeps going', () => {
    const errors: GattError[] = [];
    const mapper = new GattRecordMapper({ deviceId: 1, onError: (e) => errors.push(e) });
    expect(mapper.notification('2a37', bytes('10 48 00'), T0)).toEqual([]);
    expect(mapper.notification('2a53', bytes('07 00 03'), T0)).toEqual([]);
    expect(mapper.notification('2a37', bytes('01 FF FF'), T0)).toEqual([]); // 65535 bpm: above the wire's 6553.5
    expect(mapper.notification('2a37', bytes('00 48'), T0)).toHaveLength(1);
    expect(mapper.stats.malformed).toEqual({ heartRateMeasurement: 2, rscMeasurement: 1 });
    expect(mapper.stats.ok).toEqual({ heartRateMeasurement: 1, rscMeasurement: 0 });
    expect(errors.map((e) => e.characteristic)).toEqual(['heartRateMeasurement', 'rscMeasurement', 'heartRateMeasurement']);
    expect(mapper.stats.lastError).toMatch(/65535 bpm is above the wire's 6553\.5/);
    // sequence numbers are spent only on records that exist
    expect(mapper.notification('2a37', bytes('00 48'), T0)[0]).toMatchObject({ seq: 1 });
  });
});
