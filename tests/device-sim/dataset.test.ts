import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DATASET_FORMAT,
  activityFromCode,
  makeUsers,
  readDatasetManifest,
  readDatasetRecords,
  readDatasetTruth,
  readJsonl,
  simulateDevice,
  simulateTruth,
  writeDataset,
  type TruthRow,
} from '../../device-sim/index.ts';
import type { DeviceRecord } from '../../firmware-bindings/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'fedwear-dsim-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('writeDataset', () => {
  it('round-trips: the JSONL records and truth read back equal a fresh simulation', async () => {
    const users = makeUsers({ count: 3, seed: 4 });
    const opts = { startMs: Date.UTC(2026, 0, 5, 7), durationS: 600, seed: 9 };
    const dir = join(tmp, 'a');
    const written = await writeDataset(dir, { ...opts, users });
    expect(readdirSync(dir).sort()).toEqual(
      ['users.json', ...users.flatMap((u) => [`${u.userId}.records.jsonl`, `${u.userId}.truth.jsonl`])].sort(),
    );
    const manifest = await readDatasetManifest(dir);
    expect(manifest).toEqual(written);
    expect(manifest.format).toBe(DATASET_FORMAT);
    expect(manifest.users.map((e) => e.profile)).toEqual(users);
    expect(Object.keys(manifest.clusters).sort()).toEqual([...new Set(users.map((u) => u.cluster))].sort());
    for (const entry of manifest.users) {
      const u = entry.profile;
      const recs = await collect<DeviceRecord>(readDatasetRecords(dir, entry));
      expect(recs).toEqual([...simulateDevice(u, opts)]);
      expect(entry.recordCount).toBe(recs.length);
      const rows = await collect<TruthRow>(readDatasetTruth(dir, entry));
      const truth = simulateTruth(u, opts);
      expect(rows).toHaveLength(600);
      expect(rows[0]!.t).toBe(opts.startMs);
      expect(rows[599]!.t).toBe(opts.startMs + 599_000);
      for (const i of [0, 300, 599]) {
        expect(rows[i]!.activity).toBe(activityFromCode(truth.activity[i]!));
        expect(rows[i]!.kcalPerMin).toBeCloseTo(truth.kcalPerMin[i]!, 3);
        expect(rows[i]!.hrBpm).toBeCloseTo(truth.hrBpm[i]!, 1);
      }
      expect(entry.bouts).toEqual(truth.bouts);
    }
  });

  it('makes users itself from count and clusters, and can skip truth', async () => {
    const dir = join(tmp, 'b');
    const m = await writeDataset(dir, { count: 2, clusters: ['cyclists'], startMs: 0, durationS: 60, seed: 1, truth: false });
    expect(m.users.map((e) => e.profile.cluster)).toEqual(['cyclists', 'cyclists']);
    expect(m.users[0]!.truthFile).toBeNull();
    expect(readdirSync(dir).filter((f) => f.includes('truth'))).toEqual([]);
    expect(() => readDatasetTruth(dir, m.users[0]!)).toThrow(/no truth for user-0000/);
  });

  it('refuses user ids that are not safe file names', async () => {
    const [u] = makeUsers({ count: 1, seed: 1 });
    await expect(writeDataset(join(tmp, 'c'), { users: [{ ...u!, userId: '../evil' }], startMs: 0, durationS: 10, seed: 1 })).rejects.toThrow(
      /cannot be a file name/,
    );
  });

  it('reports a missing or foreign dataset and a corrupt line clearly', async () => {
    await expect(readDatasetManifest(join(tmp, 'nope'))).rejects.toThrow(/no dataset at/);
    const dir = join(tmp, 'd');
    await writeDataset(dir, { count: 1, startMs: 0, durationS: 10, seed: 1 });
    writeFileSync(join(dir, 'users.json'), JSON.stringify({ format: 'other', version: 1 }));
    await expect(readDatasetManifest(dir)).rejects.toThrow(/format is "other"/);
    writeFileSync(join(dir, 'bad.jsonl'), '{"a":1}\n{oops\n');
    await expect(collect(readJsonl(join(dir, 'bad.jsonl')))).rejects.toThrow(/bad\.jsonl:2:/);
  });
});
