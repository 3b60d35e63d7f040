/**
 * The wearable sketch's C core (firmware-bindings/c/examples/wearable), compiled for the host with
 * the strict flags and run against synthetic sensors: its frames, decoded by the TypeScript
 * FrameDecoder, carry the heart rate it was fed and every step.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FrameDecoder, type DeviceRecord } from '../../firmware-bindings/index.ts';

const C_DIR = path.join(import.meta.dirname, '../../firmware-bindings/c');
const SKETCH = path.join(C_DIR, 'examples/wearable');
let tmp = '';
let bin = '';

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-sketch-'));
  bin = path.join(tmp, 'host_test');
  const sources = ['beat_detector.c', 'step_counter.c', 'wearable_app.c', 'host/hal_host.c', 'host/host_test.c'].map((f) => path.join(SKETCH, f));
  try {
    execFileSync('cc', ['-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-O2', '-I', C_DIR, '-o', bin, path.join(C_DIR, 'fedwear_wire.c'), ...sources], { stdio: 'pipe' });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`compiling the wearable sketch for the host failed:\n${err.stderr?.toString() ?? err.message}`);
  }
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function run(...args: string[]): { records: DeviceRecord[]; decoder: FrameDecoder; truth: Record<string, number> } {
  const r = spawnSync(bin, args, { maxBuffer: 16 << 20 });
  expect(r.status, r.stderr.toString()).toBe(0);
  const decoder = new FrameDecoder();
  const records = decoder.push(r.stdout);
  decoder.end();
  const truth = Object.fromEntries([...r.stderr.toString().matchAll(/(\w+)=([\d.]+)/g)].map((m) => [m[1], Number(m[2])]));
  return { records, decoder, truth };
}

describe('wearable sketch core on the host', () => {
  it('sends deviceInfo, then heart rate at the fed rate and every step (72 bpm, 110 steps/min, bouncing switch)', () => {
    const { records, decoder, truth } = run('72', '110', '60', 'bounce');
    expect(decoder.stats.framesBad).toBe(0);
    expect(records.length).toBe(truth.frames);
    expect(records[0]).toMatchObject({ type: 'deviceInfo', deviceId: 0xc0ffee, seq: 0, timestampMs: 1732000000000, model: 'fedwear-wearable-sketch', firmware: [1, 0, 0] });
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i));
    const hr = records.filter((r) => r.type === 'heartRate');
    expect(hr).toHaveLength(60);
    for (const r of hr.slice(8)) {
      expect(r.type === 'heartRate' && Math.abs(r.bpm - 72)).toBeLessThan(1);
      expect(r.type === 'heartRate' && r.confidence).toBeGreaterThan(90);
    }
    expect(hr[0]).toMatchObject({ bpm: 0, confidence: 0 }); // still learning the signal
    const steps = records.filter((r) => r.type === 'steps');
    expect(steps).toHaveLength(60);
    expect(steps.at(-1)!.total).toBe(truth.steps);
    expect(truth.bounces_ignored).toBe(2 * truth.steps);
    const rr = records.flatMap((r) => (r.type === 'rrIntervals' ? r.intervalsMs : []));
    expect(rr.length).toBeGreaterThan(60);
    // each interval to within 10 ms (the drifting baseline moves the crossing), the mean to 1 ms
    expect(Math.max(...rr.map((x) => Math.abs(x - 60000 / 72)))).toBeLessThanOrEqual(10);
    expect(Math.abs(rr.reduce((a, b) => a + b, 0) / rr.length - 60000 / 72)).toBeLessThan(1);
    expect(records.at(-1)!.timestampMs).toBe(1732000000000 + 60_000);
  });

  it('keeps up with a runner: 150 bpm and 170 steps/min', () => {
    const { records, truth } = run('150', '170', '30');
    const hr = records.filter((r) => r.type === 'heartRate').slice(8);
    expect(hr.every((r) => r.type === 'heartRate' && Math.abs(r.bpm - 150) < 1.5)).toBe(true);
    expect(records.filter((r) => r.type === 'steps').at(-1)).toMatchObject({ total: truth.steps });
    expect(truth.steps).toBe(83);
  });

  it('refuses nonsense arguments with a message', () => {
    const r = spawnSync(bin, ['500', '100', '10']);
    expect(r.status).toBe(2);
    expect(r.stderr.toString()).toMatch(/BPM must be 30\.\.240/);
  });
});
