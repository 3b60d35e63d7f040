import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameDecoder, type DeviceRecord } from '../../firmware-bindings/index.ts';
import { RecordStore } from '../../gateway/index.ts';
import { startPtyPair } from '../../device-sim/index.ts';
import { runCli, spawnCli, waitForExit, waitForLine } from '../helpers/run-cli.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('fedwear sim → socat pseudo-terminal → fedwear gateway ingest', () => {
  it('stores every record the simulator sent, in order, with nothing invented', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-e2e-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const simArgs = ['sim', '--users', '3', '--seed', '11', '--duration', '900', '--start', '1700000000000', '--speed', 'max'];

    // The same seed writes the same bytes to a file: that is what the serial run must deliver.
    const reference = path.join(dir, 'reference.bin');
    const ref = await runCli([...simArgs, '--out', reference]);
    expect(ref.code, ref.stderr).toBe(0);
    const decoder = new FrameDecoder();
    const sent: DeviceRecord[] = decoder.push(fs.readFileSync(reference));
    expect(decoder.stats.framesBad).toBe(0);
    expect(sent.length).toBeGreaterThan(3 * 900); // at least one heart-rate record per user-second
    expect(new Set(sent.map((r) => r.deviceId)).size).toBe(3);

    const pair = await startPtyPair(dir);
    cleanups.push(() => pair.stop());
    const store = path.join(dir, 'store');
    const statsFile = path.join(dir, 'stats.json');
    const ingest = spawnCli(['gateway', 'ingest', '--serial', pair.b, '--store', store, '--stats-json', statsFile, '--exit-after', String(sent.length)]);
    const ingestDone = waitForExit(ingest);
    await waitForLine(ingest, 'stderr', /^opened /);

    const sim = await runCli([...simArgs, '--serial', pair.a]);
    expect(sim.code, sim.stderr).toBe(0);
    const result = await ingestDone;
    expect(result.code, result.stderr).toBe(0);

    const stats = JSON.parse(fs.readFileSync(statsFile, 'utf8'));
    expect(stats).toMatchObject({ framesOk: sent.length, framesBad: 0, recordsStored: sent.length, seqGaps: 0 });
    expect([...RecordStore.readAll(store)]).toEqual(sent);
  });
});
