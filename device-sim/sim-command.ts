/**
 * `fedwear sim`: validated options -> users -> frames on a serial port, a file or stdout, or a
 * JSONL dataset. cli/sim.ts only declares the flags and hands the raw values here.
 */
import type { Writable } from 'node:stream';
import { z } from 'zod';
import { CLUSTER_NAMES, isClusterName, type ClusterName } from './clusters.ts';
import { writeDataset } from './dataset.ts';
import { simulateMany } from './merge.ts';
import { MAX_DURATION_S } from './options.ts';
import type { ScheduleMode } from './schedule.ts';
import { openFileSink, openSerialSink, pumpFrames, stdoutSink, type Clock, type FrameSink } from './stream-out.ts';
import { makeUsers } from './users.ts';
import { encodeFrame } from '../firmware-bindings/index.ts';
import { runFirmataBoard, writeGattCapture } from './sim-devices.ts';

export type SimOutput =
  | { kind: 'serial'; path: string; baudRate: number }
  | { kind: 'file'; path: string }
  | { kind: 'stdout' }
  | { kind: 'dataset'; dir: string }
  /** A StandardFirmata board (pulse sensor on A0, step line on pin 2) served on a serial device. */
  | { kind: 'firmata'; path: string; baudRate: number }
  /** Bluetooth LE GATT notifications (0x2A37, 0x2A53) as a JSON-lines capture. */
  | { kind: 'gatt'; path: string };

export interface SimCommand {
  users: number;
  seed: number;
  durationS: number;
  startMs: number;
  /** Simulated seconds per real second; 0 = as fast as possible. */
  speed: number;
  clusters?: ClusterName[];
  schedule?: ScheduleMode;
  output: SimOutput;
}

export const DEFAULT_BAUD = 115_200;
/** StandardFirmata's rate (and johnny-five's default). */
export const FIRMATA_BAUD = 57_600;
const MAX_USERS = 10_000;

const intOption = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const startOption = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const s = String(v).trim();
  const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (Number.isSafeInteger(ms) && ms >= 0) return ms;
  ctx.addIssue({ code: 'custom', message: `expected epoch milliseconds or an ISO-8601 time, got ${JSON.stringify(v)}` });
  return z.NEVER;
});

const speedOption = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const s = String(v).trim().toLowerCase();
  if (s === 'max') return 0;
  const x = Number(s);
  if (s !== '' && Number.isFinite(x) && x >= 0) return x;
  ctx.addIssue({ code: 'custom', message: `expected a number ≥ 0 or "max", got ${JSON.stringify(v)}` });
  return z.NEVER;
});

const clustersOption = z.string().transform((v, ctx) => {
  const names = v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const bad = names.filter((n) => !isClusterName(n));
  if (names.length > 0 && bad.length === 0) return names as ClusterName[];
  const what = bad.length > 0 ? `unknown ${bad.map((b) => JSON.stringify(b)).join(', ')}` : 'empty list';
  ctx.addIssue({ code: 'custom', message: `${what}; known: ${CLUSTER_NAMES.join(', ')}` });
  return z.NEVER;
});

const SimFlags = z
  .object({
    users: intOption(1, MAX_USERS).default(1),
    seed: intOption(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER).default(1),
    duration: intOption(1, MAX_DURATION_S),
    start: startOption.optional(),
    speed: speedOption.default(1),
    clusters: clustersOption.optional(),
    schedule: z.enum(['day', 'session']).optional(),
    serial: z.string().min(1).optional(),
    out: z.string().min(1).optional(),
    stdout: z.boolean().optional(),
    dataset: z.string().min(1).optional(),
    firmata: z.string().min(1).optional(),
    gatt: z.string().min(1).optional(),
    baud: intOption(50, 4_000_000).optional(),
  })
  .superRefine((o, ctx) => {
    const chosen = (['serial', 'out', 'stdout', 'dataset', 'firmata', 'gatt'] as const).filter((k) => o[k] !== undefined && o[k] !== false);
    if (chosen.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `choose exactly one output: --serial PATH, --out FILE, --stdout, --dataset DIR, --firmata PATH or --gatt FILE (got ${
          chosen.length === 0 ? 'none' : chosen.map((k) => `--${k}`).join(' and ')
        })`,
      });
    }
    if (o.baud !== undefined && o.serial === undefined && o.firmata === undefined) {
      ctx.addIssue({ code: 'custom', path: ['baud'], message: 'only applies with --serial or --firmata' });
    }
    // A board or a strap is one person's device.
    if ((o.firmata !== undefined || o.gatt !== undefined) && o.users !== 1) {
      ctx.addIssue({ code: 'custom', path: ['users'], message: `--firmata and --gatt simulate one wearer's device, got ${o.users} users` });
    }
    // The board samples on a clock; "as fast as possible" has no meaning for it.
    if (o.firmata !== undefined && o.speed === 0) {
      ctx.addIssue({ code: 'custom', path: ['speed'], message: 'the Firmata board samples on a clock: give a speed > 0 (simulated seconds per real second)' });
    }
  });

/**
 * Raw flag values (strings from commander, or numbers from code) -> a checked command.
 * Throws one Error listing the bad flags by name. `now` gives the default start (whole seconds).
 */
export function parseSimCommand(raw: Record<string, unknown>, now: () => number = Date.now): SimCommand {
  const r = SimFlags.safeParse(raw);
  if (!r.success) throw new Error(`invalid sim options:\n${formatIssues(r.error.issues)}`);
  const o = r.data;
  const output: SimOutput =
    o.serial !== undefined
      ? { kind: 'serial', path: o.serial, baudRate: o.baud ?? DEFAULT_BAUD }
      : o.out !== undefined
        ? { kind: 'file', path: o.out }
        : o.dataset !== undefined
          ? { kind: 'dataset', dir: o.dataset }
          : o.firmata !== undefined
            ? { kind: 'firmata', path: o.firmata, baudRate: o.baud ?? FIRMATA_BAUD }
            : o.gatt !== undefined
              ? { kind: 'gatt', path: o.gatt }
              : { kind: 'stdout' };
  return {
    users: o.users,
    seed: o.seed,
    durationS: o.duration,
    startMs: o.start ?? Math.floor(now() / 1000) * 1000,
    speed: o.speed,
    ...(o.clusters ? { clusters: o.clusters } : {}),
    ...(o.schedule ? { schedule: o.schedule } : {}),
    output,
  };
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const flag = i.path.length > 0 ? `--${String(i.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ` : '';
      return `  ${flag}${i.message}`;
    })
    .join('\n');
}

export interface SimIo {
  stdout: Writable;
  stderr: Writable;
  signal?: AbortSignal;
  clock?: Clock;
}

export interface SimSummary {
  users: number;
  records: number;
  bytes: number;
  aborted: boolean;
  output: SimOutput;
}

export async function runSimCommand(cmd: SimCommand, io: SimIo): Promise<SimSummary> {
  const users = makeUsers({ count: cmd.users, seed: cmd.seed, ...(cmd.clusters ? { clusters: cmd.clusters } : {}) });
  const simOpts = {
    startMs: cmd.startMs,
    durationS: cmd.durationS,
    seed: cmd.seed,
    ...(cmd.schedule ? { schedule: cmd.schedule } : {}),
  };
  if (cmd.output.kind === 'dataset') {
    const manifest = await writeDataset(cmd.output.dir, { ...simOpts, users });
    const records = manifest.users.reduce((s, u) => s + u.recordCount, 0);
    io.stderr.write(`sim: ${users.length} users, ${records} records written as JSONL to ${cmd.output.dir}\n`);
    return { users: users.length, records, bytes: 0, aborted: false, output: cmd.output };
  }
  if (cmd.output.kind === 'firmata') return runFirmataBoard(users[0], simOpts, cmd.speed, cmd.output, io);
  if (cmd.output.kind === 'gatt') return writeGattCapture(users[0], simOpts, cmd.output, io);

  const out = cmd.output;
  const sink: FrameSink =
    out.kind === 'serial'
      ? await openSerialSink(out.path, out.baudRate)
      : out.kind === 'file'
        ? await openFileSink(out.path)
        : stdoutSink(io.stdout);
  let stats;
  try {
    stats = await pumpFrames(simulateMany(users, simOpts), sink, {
      speed: cmd.speed,
      encode: encodeFrame,
      ...(io.clock ? { clock: io.clock } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
    });
  } finally {
    await sink.close();
  }
  const where = out.kind === 'serial' ? `${out.path} at ${out.baudRate} baud` : out.kind === 'file' ? out.path : 'stdout';
  io.stderr.write(
    `sim: ${users.length} users, ${stats.records} frames, ${stats.bytes} bytes to ${where}${stats.aborted ? ' (interrupted)' : ''}\n`,
  );
  return { users: users.length, records: stats.records, bytes: stats.bytes, aborted: stats.aborted, output: out };
}
