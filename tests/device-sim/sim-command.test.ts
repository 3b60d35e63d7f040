import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { registerSim } from '../../cli/sim.ts';
import { makeUsers, parseSimCommand, readDatasetManifest, runSimCommand, simulateMany } from '../../device-sim/index.ts';
import { FrameDecoder } from '../../firmware-bindings/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'fedwear-sim-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function sinkStream(): { stream: PassThrough; bytes: () => Buffer } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, bytes: () => Buffer.concat(chunks) };
}

describe('parseSimCommand', () => {
  it('fills defaults and reads every output kind', () => {
    const cmd = parseSimCommand({ duration: '60', stdout: true }, () => 1_700_000_000_123);
    expect(cmd).toEqual({ users: 1, seed: 1, durationS: 60, startMs: 1_700_000_000_000, speed: 1, output: { kind: 'stdout' } });
    expect(parseSimCommand({ duration: '5', serial: '/dev/ttyUSB0' }).output).toEqual({ kind: 'serial', path: '/dev/ttyUSB0', baudRate: 115_200 });
    expect(parseSimCommand({ duration: '5', serial: '/dev/x', baud: '9600' }).output).toEqual({ kind: 'serial', path: '/dev/x', baudRate: 9600 });
    expect(parseSimCommand({ duration: '5', out: 'f.bin', speed: 'max' }).speed).toBe(0);
    expect(parseSimCommand({ duration: '5', dataset: 'd', start: '2026-01-05T00:00:00Z' }).startMs).toBe(Date.UTC(2026, 0, 5));
    expect(parseSimCommand({ duration: '5', stdout: true, clusters: 'cyclists, active-young' }).clusters).toEqual(['cyclists', 'active-young']);
  });

  it('names every bad flag', () => {
    const msg = (raw: Record<string, unknown>) => {
      try {
        parseSimCommand(raw);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error('expected a throw');
    };
    const m = msg({ duration: '0', users: 'many', speed: '-2', start: 'soon', clusters: 'astronauts', stdout: true });
    expect(m).toMatch(/--duration:/);
    expect(m).toMatch(/--users:/);
    expect(m).toMatch(/--speed: expected a number ≥ 0 or "max", got "-2"/);
    expect(m).toMatch(/--start: expected epoch milliseconds or an ISO-8601 time/);
    expect(m).toMatch(/--clusters: unknown "astronauts"/);
    expect(msg({ duration: '5' })).toMatch(/choose exactly one output.*got none/);
    expect(msg({ duration: '5', stdout: true, out: 'x' })).toMatch(/got --out and --stdout/);
    expect(msg({ duration: '5', stdout: true, baud: '9600' })).toMatch(/--baud: only applies with --serial/);
  });
});

describe('fedwear sim end to end', () => {
  const users = makeUsers({ count: 3, seed: 7 });
  const expected = [...simulateMany(users, { startMs: 0, durationS: 120, seed: 7 })];

  it('--stdout writes decodable frames, one per record, identical to simulateMany', async () => {
    const out = sinkStream();
    const err = sinkStream();
    const cmd = parseSimCommand({ users: '3', seed: '7', duration: '120', start: '0', speed: 'max', stdout: true });
    const summary = await runSimCommand(cmd, { stdout: out.stream, stderr: err.stream });
    const dec = new FrameDecoder();
    expect(dec.push(out.bytes())).toEqual(expected);
    expect(dec.stats.framesBad).toBe(0);
    expect(summary.records).toBe(expected.length);
    expect(err.bytes().toString()).toMatch(/3 users, \d+ frames/);
  });

  it('--out through the commander program writes the same bytes to a file', async () => {
    const file = join(tmp, 'frames.bin');
    const program = new Command().exitOverride();
    registerSim(program);
    await program.parseAsync(['sim', '--users', '3', '--seed', '7', '--duration', '120', '--start', '0', '--speed', 'max', '--out', file], {
      from: 'user',
    });
    const dec = new FrameDecoder();
    expect(dec.push(readFileSync(file))).toEqual(expected);
  });

  it('--dataset writes JSONL instead of frames', async () => {
    const dir = join(tmp, 'ds');
    const err = sinkStream();
    await runSimCommand(parseSimCommand({ users: '2', seed: '3', duration: '60', start: '0', dataset: dir }), { stdout: new PassThrough(), stderr: err.stream });
    const m = await readDatasetManifest(dir);
    expect(m.users).toHaveLength(2);
    expect(m.sim).toEqual({ startMs: 0, durationS: 60, seed: 3, schedule: 'session' });
    expect(err.bytes().toString()).toMatch(/JSONL/);
  });
});
