/** Property-based tests of the streaming decoder (fast-check, fixed seed so failures replay). */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameDecoder, cobsEncode, encodeFrame, encodeRecord, type DecoderStats, type DeviceRecord } from '../../firmware-bindings/index.ts';
import { SEED, chunked, concat, countSegments, hex, mixedStreamArb, noiseArb, recordArb } from './helpers.ts';

const RUNS = { seed: SEED, numRuns: 150 };
const cuts = fc.array(fc.nat(), { maxLength: 12 });

function decodeAll(chunks: readonly Uint8Array[], dec = new FrameDecoder()): { records: DeviceRecord[]; stats: DecoderStats } {
  const records = chunks.flatMap((c) => dec.push(c));
  dec.end();
  return { records, stats: dec.stats };
}

function expectCountersAddUp(stats: DecoderStats, records: number, bytes: Uint8Array): void {
  const sum = Object.values(stats.errors).reduce((a, b) => a + b, 0);
  expect(stats.framesBad).toBe(sum);
  expect(stats.framesOk).toBe(records);
  // Every non-empty 0x00-delimited segment (and an unterminated tail) has exactly one outcome.
  expect(stats.framesOk + stats.framesBad).toBe(countSegments(bytes));
  expect(stats.bytes).toBe(bytes.length);
}


describe('FrameDecoder properties', () => {
  it('never throws on random bytes, and its counters add up', () => {
    fc.assert(
      fc.property(fc.oneof(noiseArb, fc.uint8Array({ maxLength: 500 })), cuts, (bytes, at) => {
        const { records, stats } = decodeAll(chunked(bytes, at));
        expectCountersAddUp(stats, records.length, bytes);
      }),
      { ...RUNS, numRuns: 300 },
    );
  });

  it('counters add up on mixed streams, and chunking changes nothing', () => {
    fc.assert(
      fc.property(mixedStreamArb, cuts, (parts, at) => {
        const bytes = concat(parts);
        const whole = decodeAll([bytes]);
        const pieces = decodeAll(chunked(bytes, at));
        expectCountersAddUp(whole.stats, whole.records.length, bytes);
        expect(pieces.records).toEqual(whole.records);
        expect(pieces.stats).toEqual(whole.stats);
      }),
      RUNS,
    );
  });

  it('recovers every valid frame that follows arbitrary garbage and a 0x00', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(recordArb, { minLength: 1, maxLength: 8 }), cuts, (garbage, recs, at) => {
        const dec = new FrameDecoder();
        dec.push(concat([garbage, Uint8Array.of(0)]));
        const frames = concat(recs.map((r) => encodeFrame(r)));
        expect(chunked(frames, at).flatMap((c) => dec.push(c))).toEqual(recs);
      }),
      RUNS,
    );
  });

  it('recovers every valid frame interleaved with delimited garbage, in order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(recordArb, noiseArb), { minLength: 1, maxLength: 8 }), (pairs) => {
        const bytes = concat(pairs.flatMap(([r, g]) => [encodeFrame(r), g, Uint8Array.of(0)]));
        const { records } = decodeAll([bytes]);
        // Garbage could (rarely) form a valid frame of its own; the real ones must all be there, in order.
        const wanted = pairs.map(([r]) => hex(encodeRecord(r)));
        const got = records.map((r) => hex(encodeRecord(r)));
        let i = 0;
        for (const g of got) if (g === wanted[i]) i++;
        expect(i).toBe(wanted.length);
      }),
      RUNS,
    );
  });

  it('never yields a record that was not sent, however the stream is mutated', () => {
    const mutation = fc.record({ at: fc.nat(), op: fc.constantFrom('flip', 'insert', 'delete', 'zero', 'dup'), bit: fc.integer({ min: 0, max: 7 }), byte: fc.integer({ min: 0, max: 255 }) });
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 10 }), fc.array(mutation, { minLength: 1, maxLength: 6 }), (recs, muts) => {
        const sent = new Set(recs.map((r) => hex(encodeRecord(r))));
        let bytes = [...concat(recs.map((r) => encodeFrame(r)))];
        for (const m of muts) {
          const i = m.at % bytes.length;
          if (m.op === 'flip') bytes[i] ^= 1 << m.bit;
          else if (m.op === 'insert') bytes.splice(i, 0, m.byte);
          else if (m.op === 'delete' && bytes.length > 1) bytes.splice(i, 1);
          else if (m.op === 'zero') bytes[i] = 0;
          else if (m.op === 'dup') bytes = [...bytes.slice(0, i), ...bytes.slice(i, i + 12), ...bytes.slice(i)];
        }
        const { records, stats } = decodeAll([Uint8Array.from(bytes)]);
        for (const r of records) expect(sent.has(hex(encodeRecord(r)))).toBe(true);
        expectCountersAddUp(stats, records.length, Uint8Array.from(bytes));
      }),
      { ...RUNS, numRuns: 300 },
    );
  });

  it('always rejects a frame with any error burst of up to 16 bits, as a CRC error', () => {
    // CRC-16 detects every burst no longer than its degree (Peterson and Brown 1961, Proc. IRE 49(1)).
    fc.assert(
      fc.property(recordArb, fc.nat(), fc.integer({ min: 1, max: 0xffff }), (rec, at, pattern) => {
        const raw = encodeRecord(rec);
        const i = at % (raw.length - 1);
        raw[i] ^= pattern >> 8;
        raw[i + 1] ^= pattern & 0xff;
        const dec = new FrameDecoder();
        expect(dec.push(concat([cobsEncode(raw), Uint8Array.of(0)]))).toEqual([]);
        expect(dec.stats.errors.crc).toBe(1);
        expect(dec.stats.framesBad).toBe(1);
      }),
      { ...RUNS, numRuns: 400 },
    );
  });

  it('counts exactly the missing sequence numbers for one device', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 30 }), (start, steps) => {
        let seq = start >>> 0;
        const recs: DeviceRecord[] = [{ type: 'steps', deviceId: 42, seq, timestampMs: 0, total: 0 }];
        for (const s of steps) {
          seq = (seq + s) >>> 0;
          recs.push({ type: 'steps', deviceId: 42, seq, timestampMs: 0, total: 0 });
        }
        const { stats } = decodeAll([concat(recs.map((r) => encodeFrame(r)))]);
        expect(stats.seqGaps).toBe(steps.reduce((a, s) => a + s - 1, 0));
        expect(stats.seqGapEvents).toBe(steps.filter((s) => s > 1).length);
        expect(stats.seqRewinds).toBe(0);
      }),
      RUNS,
    );
  });
});
