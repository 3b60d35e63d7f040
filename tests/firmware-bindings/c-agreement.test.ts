/**
 * The C99 library (firmware-bindings/c) against the TypeScript codec, both directions, byte for
 * byte: the C driver test_vectors.c is compiled here with the strictest flags the brief names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  FrameDecoder,
  WireEncodeError,
  cobsEncode,
  crc16,
  encodeFrame,
  encodeRecord,
  type DecoderStats,
  type DeviceRecord,
} from '../../firmware-bindings/index.ts';
import { loadFixture } from '../helpers/fixtures.ts';

const vectors = loadFixture<typeof import('../fixtures/wire-vectors.json')>('wire-vectors.json');
import { SEED, concat, hex, mixedStreamArb, recordArb, recordToLine, unhex } from './helpers.ts';

const C_DIR = path.join(import.meta.dirname, '../../firmware-bindings/c');
let tmp = '';
let bin = '';

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-wire-c-'));
  bin = path.join(tmp, 'test_vectors');
  const flags = ['-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-O2'];
  try {
    execFileSync('cc', [...flags, '-o', bin, path.join(C_DIR, 'fedwear_wire.c'), path.join(C_DIR, 'test_vectors.c')], { stdio: 'pipe' });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`compiling firmware-bindings/c failed (is a C compiler installed as "cc"?):\n${err.stderr?.toString() ?? err.message}`);
  }
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

let inputs = 0;
/** Runs the C driver in `mode` on `input`; returns its output lines. */
function runC(mode: string, input: string): string[] {
  const file = path.join(tmp, `in-${inputs++}.txt`);
  fs.writeFileSync(file, input);
  const out = execFileSync(bin, [mode, file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return out.split('\n').slice(0, -1);
}

function statsLine(s: DecoderStats): string {
  const e = s.errors;
  return (
    `stats framesOk=${s.framesOk} framesBad=${s.framesBad} cobs=${e.cobs} length=${e.length} crc=${e.crc} version=${e.version} ` +
    `unknownType=${e.unknownType} field=${e.field} seqGaps=${s.seqGaps} seqGapEvents=${s.seqGapEvents} seqRewinds=${s.seqRewinds}`
  );
}

/** The TypeScript decoder's account of a stream, in the C driver's output format. */
function tsDecodeLines(bytes: Uint8Array): string[] {
  const lines: string[] = [];
  const dec = new FrameDecoder({ maxDevices: 8, onError: (e) => lines.push(`reject ${e.kind}`) });
  for (let i = 0; i < bytes.length; i++) for (const r of dec.push(bytes.subarray(i, i + 1))) lines.push(recordToLine(r)!);
  dec.end();
  lines.push(statsLine(dec.stats));
  return lines;
}

const sample = <T,>(arb: fc.Arbitrary<T>, n: number): T[] => fc.sample(arb, { seed: SEED, numRuns: n });

describe('C library agrees with the TypeScript codec', () => {
  it('CRC-16: vectors and random data', () => {
    const data = [...vectors.crc.map((v) => unhex(v.data)), ...sample(fc.uint8Array({ minLength: 1, maxLength: 200 }), 100)];
    const c = runC('crc', data.map((d) => (d.length ? hex(d) : '-')).join('\n') + '\n');
    expect(c).toEqual(data.map((d) => crc16(d).toString(16).padStart(4, '0')));
    expect(c[0]).toBe('29b1');
  });

  it('COBS: vectors, 254/255-byte runs, random data (C also round-trips each)', () => {
    const runs = [253, 254, 255, 508, 509].map((n) => new Uint8Array(n).fill(0x33));
    const data = [...vectors.cobs.map((v) => unhex(v.data)), ...runs, ...sample(fc.uint8Array({ minLength: 1, maxLength: 600 }), 100)];
    const c = runC('cobs', data.map((d) => hex(d)).join('\n') + '\n');
    expect(c).toEqual(data.map((d) => hex(cobsEncode(d))));
  });

  it('encoding: every vector record gives the committed frame', () => {
    const c = runC('encode', vectors.records.map((v) => recordToLine(v.record as DeviceRecord)).join('\n') + '\n');
    expect(c).toEqual(vectors.records.map((v) => v.frame));
  });

  it('encoding: random records give the same frames', () => {
    const recs = sample(recordArb, 500);
    const c = runC('encode', recs.map((r) => recordToLine(r)).join('\n') + '\n');
    expect(c).toEqual(recs.map((r) => hex(encodeFrame(r))));
  });

  it('encoding: both refuse the invalid vector records that C types can express', () => {
    const cases = vectors.invalidRecords.flatMap((v) => {
      const line = recordToLine(v.record as DeviceRecord);
      return line === undefined ? [] : [{ ...v, line }];
    });
    expect(cases.map((c) => c.name)).toEqual(
      expect.arrayContaining(['confidence over 100', '33 RR intervals', 'label source 0', 'model 33 bytes', 'timestamp at 2^53', 'unknown record type']),
    );
    const c = runC('encode', cases.map((v) => v.line).join('\n') + '\n');
    expect(c).toEqual(cases.map((v) => (v.field === 'record.type' ? 'error unknownType' : 'error field')));
    for (const v of cases) expect(() => encodeRecord(v.record as DeviceRecord)).toThrow(WireEncodeError);
  });

  it('decoding one record: vector records come back identical, bad frames fail with the same kind', () => {
    const good = runC('record', vectors.records.map((v) => v.unframed).join('\n') + '\n');
    expect(good).toEqual(vectors.records.map((v) => recordToLine(v.record as DeviceRecord)));
    const bad = runC('record', vectors.badFrames.map((v) => v.bytes || '-').join('\n') + '\n');
    expect(bad).toEqual(vectors.badFrames.map((v) => `error ${v.kind}`));
  });

  it('streaming: every stream vector gives the committed records, rejections and counters', () => {
    for (const v of vectors.streams) {
      const expected = [
        ...v.events.map((e) => ('reject' in e ? `reject ${e.reject}` : recordToLine(e.record as DeviceRecord))),
        statsLine(v.stats),
      ];
      expect(runC('decode', v.bytes), v.name).toEqual(expected);
    }
  });

  it('streaming: a long random stream of frames, garbage, crafted and mutated frames decodes identically', () => {
    const parts = sample(mixedStreamArb, 60).flat();
    const bytes = [...concat(parts)];
    // Sprinkle single-bit flips so CRC failures and COBS breakage are common too.
    const flips = sample(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), 150);
    for (const [at, bit] of flips) bytes[at % bytes.length] ^= 1 << bit;
    const stream = Uint8Array.from(bytes);
    const ts = tsDecodeLines(stream);
    expect(runC('decode', hex(stream))).toEqual(ts);
    // The stream must exercise every outcome, or the comparison proves little.
    const seen = new Set(ts.map((l) => l.split(' ')[0] + (l.startsWith('reject') ? ` ${l.split(' ')[1]}` : '')));
    for (const kind of ['reject cobs', 'reject length', 'reject crc', 'reject version', 'reject unknownType', 'reject field', 'heartRate', 'deviceInfo']) {
      expect(seen.has(kind), kind).toBe(true);
    }
  });
});
