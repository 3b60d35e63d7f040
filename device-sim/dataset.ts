/**
 * Offline datasets: every user's records and per-second truth as JSON Lines, plus users.json
 * (profiles, clusters, schedules, simulation options). users.json is written last, by rename, so
 * its presence means the dataset is complete.
 *
 * Layout of DIR:
 *   users.json                 DatasetManifest
 *   <userId>.records.jsonl     one DeviceRecord per line, in emission order
 *   <userId>.truth.jsonl       one TruthRow per simulated second
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLUSTERS, type ClusterName, type ClusterSpec } from './clusters.ts';
import { simulateTicks } from './device.ts';
import { resolveSimOptions, boutsFor, type SimOptions } from './options.ts';
import type { Bout, ScheduleMode } from './schedule.ts';
import { makeUsers, type ClusterChoice, type UserProfile } from './users.ts';
import type { ActivityKind } from './activities.ts';
import type { DeviceRecord } from '../firmware-bindings/index.ts';

export const DATASET_FORMAT = 'fedwear-device-sim-dataset';
export const DATASET_VERSION = 1;

export interface DatasetOptions extends SimOptions {
  /** The users to simulate; or give count (and clusters) to make them with makeUsers and opts.seed. */
  users?: readonly UserProfile[];
  count?: number;
  clusters?: ClusterChoice;
  /** Write per-second truth files (default true). */
  truth?: boolean;
}

/** One second of held-out truth; t is the start of the second (ms since epoch). */
export interface TruthRow {
  t: number;
  activity: ActivityKind;
  kcalPerMin: number;
  hrBpm: number;
  cadenceSpm: number;
  met: number;
  labelled: boolean;
}

export interface DatasetUserEntry {
  profile: UserProfile;
  /** File names relative to the dataset directory. */
  recordsFile: string;
  truthFile: string | null;
  bouts: Bout[];
  recordCount: number;
  labelCount: number;
}

export interface DatasetManifest {
  format: typeof DATASET_FORMAT;
  version: typeof DATASET_VERSION;
  sim: { startMs: number; durationS: number; seed: number; schedule: ScheduleMode | 'custom' };
  clusters: Partial<Record<ClusterName, ClusterSpec>>;
  users: DatasetUserEntry[];
}

const MANIFEST = 'users.json';
const FLUSH_CHARS = 1 << 20;
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export async function writeDataset(dir: string, opts: DatasetOptions): Promise<DatasetManifest> {
  const o = resolveSimOptions(opts);
  const users = opts.users ?? makeUsers({ count: opts.count ?? 1, seed: o.seed, ...(opts.clusters ? { clusters: opts.clusters } : {}) });
  const ids = new Set<string>();
  for (const u of users) {
    if (!SAFE_ID.test(u.userId)) throw new RangeError(`userId ${JSON.stringify(u.userId)} cannot be a file name (letters, digits, . _ -)`);
    if (ids.has(u.userId)) throw new RangeError(`userId ${u.userId} appears twice`);
    ids.add(u.userId);
  }
  const withTruth = opts.truth ?? true;
  await mkdir(dir, { recursive: true });

  const entries: DatasetUserEntry[] = [];
  for (const user of users) {
    const recordsFile = `${user.userId}.records.jsonl`;
    const truthFile = withTruth ? `${user.userId}.truth.jsonl` : null;
    const records = await LineWriter.open(join(dir, recordsFile));
    const truth = truthFile === null ? null : await LineWriter.open(join(dir, truthFile));
    let recordCount = 0;
    let labelCount = 0;
    try {
      for (const tick of simulateTicks(user, o)) {
        for (const rec of tick.records) {
          const pending = records.line(JSON.stringify(rec));
          if (pending) await pending;
          recordCount++;
          if (rec.type === 'energyLabel') labelCount++;
        }
        if (truth !== null) {
          const s = tick.truth;
          const row: TruthRow = {
            t: tick.startMs,
            activity: s.activity,
            kcalPerMin: round(s.kcalPerMin, 4),
            hrBpm: round(s.hrBpm, 2),
            cadenceSpm: round(s.cadenceSpm, 2),
            met: round(s.met, 3),
            labelled: s.labelled,
          };
          const pending = truth.line(JSON.stringify(row));
          if (pending) await pending;
        }
      }
    } finally {
      await records.close();
      await truth?.close();
    }
    entries.push({ profile: user, recordsFile, truthFile, bouts: boutsFor(user, o), recordCount, labelCount });
  }

  const used = [...new Set(users.map((u) => u.cluster))];
  const manifest: DatasetManifest = {
    format: DATASET_FORMAT,
    version: DATASET_VERSION,
    sim: {
      startMs: o.startMs,
      durationS: o.durationS,
      seed: o.seed,
      schedule: typeof o.schedule === 'string' ? o.schedule : 'custom',
    },
    clusters: Object.fromEntries(used.map((c) => [c, CLUSTERS[c]])),
    users: entries,
  };
  const tmp = join(dir, `${MANIFEST}.tmp`);
  await writeFile(tmp, JSON.stringify(manifest, null, 2) + '\n');
  await rename(tmp, join(dir, MANIFEST));
  return manifest;
}

export async function readDatasetManifest(dir: string): Promise<DatasetManifest> {
  const path = join(dir, MANIFEST);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`no dataset at ${dir}: cannot read ${MANIFEST} (${(err as Error).message})`);
  }
  const m = JSON.parse(text) as Partial<DatasetManifest>;
  if (m.format !== DATASET_FORMAT) throw new Error(`${path}: format is ${JSON.stringify(m.format)}, expected ${DATASET_FORMAT}`);
  if (m.version !== DATASET_VERSION) throw new Error(`${path}: version ${String(m.version)} is not supported (expected ${DATASET_VERSION})`);
  return m as DatasetManifest;
}

export function readDatasetRecords(dir: string, entry: DatasetUserEntry): AsyncGenerator<DeviceRecord> {
  return readJsonl<DeviceRecord>(join(dir, entry.recordsFile));
}

export function readDatasetTruth(dir: string, entry: DatasetUserEntry): AsyncGenerator<TruthRow> {
  if (entry.truthFile === null) throw new Error(`dataset has no truth for ${entry.profile.userId} (written with truth: false)`);
  return readJsonl<TruthRow>(join(dir, entry.truthFile));
}

/** Parsed lines of a JSON Lines file; an unparsable line throws naming the file and line number. */
export async function* readJsonl<T>(path: string): AsyncGenerator<T> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.length === 0) continue;
    try {
      yield JSON.parse(line) as T;
    } catch (err) {
      throw new Error(`${path}:${n}: ${(err as Error).message}`);
    }
  }
}

/** Buffers lines and writes them in large chunks. */
class LineWriter {
  private buf: string[] = [];
  private chars = 0;

  private constructor(private readonly fh: Awaited<ReturnType<typeof open>>) {}

  static async open(path: string): Promise<LineWriter> {
    return new LineWriter(await open(path, 'w'));
  }

  /** Returns a promise only when the line triggered a write (so callers await rarely). */
  line(s: string): Promise<void> | null {
    this.buf.push(s);
    this.chars += s.length + 1;
    return this.chars >= FLUSH_CHARS ? this.flush() : null;
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.fh.close();
    }
  }

  private async flush(): Promise<void> {
    if (this.buf.length === 0) return;
    const text = this.buf.join('\n') + '\n';
    this.buf = [];
    this.chars = 0;
    await this.fh.write(text);
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
