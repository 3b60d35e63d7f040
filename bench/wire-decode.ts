/**
 * Wire decode throughput: FrameDecoder over a realistic device stream (per second: heart rate,
 * RR intervals, steps; battery each minute; an occasional energy label and device info), with
 * 1% of frames corrupted by line noise. Fed whole and in 64-byte chunks (what a serial port
 * read typically returns), plus encodeFrame for comparison. The reference is the same records as
 * newline-delimited JSON split and parsed line by line: what a text protocol would cost.
 */
import { FrameDecoder, LabelSource, encodeFrame, type DeviceRecord } from '../firmware-bindings/index.ts';
import { measureRate, writeResults, type Measurement } from './harness.ts';
import { seededRng } from '../models/index.ts';

const rng = seededRng; // mulberry32: every run measures the same stream

const rand = rng(7);
const records: DeviceRecord[] = [];
let seq = 0;
const t0 = 1_732_000_000_000;
const header = (s: number) => ({ deviceId: 0x00c0ffee, seq: seq++, timestampMs: t0 + s * 1000 });
for (let s = 0; records.length < 20_000; s++) {
  if (s % 3600 === 0) records.push({ type: 'deviceInfo', ...header(s), firmware: [1, 4, 2], hardwareRevision: 3, model: 'FW-Band 2' });
  records.push({ type: 'heartRate', ...header(s), bpm: Math.round((60 + 60 * rand()) * 10) / 10, confidence: 80 + Math.floor(20 * rand()) });
  const beats = 1 + Math.floor(2 * rand());
  records.push({ type: 'rrIntervals', ...header(s), intervalsMs: Array.from({ length: beats }, () => 400 + Math.floor(600 * rand())) });
  records.push({ type: 'steps', ...header(s), total: s * 2 });
  if (s % 60 === 0) records.push({ type: 'battery', ...header(s), percent: 80, millivolts: 3900 });
  if (s % 600 === 599) records.push({ type: 'energyLabel', ...header(s), kcalPerMin: 7.25, durationS: 600, source: LabelSource.ChestStrap });
}
const frames = records.map((r) => encodeFrame(r));
for (const f of frames) if (rand() < 0.01) f[Math.floor(rand() * (f.length - 1))] ^= 1 << Math.floor(rand() * 8);
const total = frames.reduce((n, f) => n + f.length, 0);
const stream = new Uint8Array(total);
let at = 0;
for (const f of frames) {
  stream.set(f, at);
  at += f.length;
}
const chunks: Uint8Array[] = [];
for (let i = 0; i < stream.length; i += 64) chunks.push(stream.subarray(i, i + 64));

// One check outside the timing: the stream decodes as intended.
const check = new FrameDecoder();
const ok = check.push(stream).length;
console.log(`stream: ${frames.length} frames, ${stream.length} bytes (mean ${(stream.length / frames.length).toFixed(1)} B/frame), ${ok} ok, ${check.stats.framesBad} bad`);

const measurements: Measurement[] = [];
function measure(name: string, fn: () => void, work: number, unit: string, bytesPerUnit?: number): void {
  const { median, runs } = measureRate(fn, work, { runs: 7, seconds: 0.5 });
  const extra: Record<string, unknown> = { frames: frames.length, bytes: stream.length };
  if (bytesPerUnit !== undefined) extra.megabytesPerSecond = Math.round(((median * bytesPerUnit) / 1e6) * 100) / 100;
  measurements.push({ name, median, unit, runs, extra, ...(name.startsWith('FrameDecoder') ? { reference: jsonReference('the same records as JSON lines, JSON.parse', median) } : {}) });
  console.log(`${name}: ${Math.round(median).toLocaleString()} ${unit}${extra.megabytesPerSecond !== undefined ? ` (${extra.megabytesPerSecond} MB/s)` : ''}`);
}

const bytesPerFrame = stream.length / frames.length;
const jsonLines = Buffer.from(records.map((r) => JSON.stringify(r)).join('\n') + '\n');
const { median: jsonRate } = measureRate(
  () => {
    for (const line of jsonLines.toString('utf8').split('\n')) if (line) JSON.parse(line);
  },
  records.length,
  { runs: 7, seconds: 0.5 },
);
const jsonReference = (name: string, rate: number): Measurement['reference'] => ({ name, value: Math.round(jsonRate), unit: 'records/s', ratio: Math.round((rate / jsonRate) * 100) / 100 });
console.log(`reference: JSON lines, ${jsonLines.length} bytes, ${Math.round(jsonRate).toLocaleString()} records/s`);
measure('FrameDecoder.push, whole stream', () => void new FrameDecoder().push(stream), frames.length, 'frames/s', bytesPerFrame);
measure(
  'FrameDecoder.push, 64-byte chunks',
  () => {
    const d = new FrameDecoder();
    for (const c of chunks) d.push(c);
  },
  frames.length,
  'frames/s',
  bytesPerFrame,
);
measure(
  'encodeFrame',
  () => {
    for (const r of records) encodeFrame(r);
  },
  records.length,
  'frames/s',
  bytesPerFrame,
);

const file = writeResults(
  'wire-decode',
  measurements,
  'Realistic 1 Hz wearable mix (HR, RR, steps; battery/min; label/10 min; device info/h), 1% of frames with a bit flipped. MB/s counts wire bytes (COBS frames with delimiters).',
);
console.log(`wrote ${file}`);
