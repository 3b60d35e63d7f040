/**
 * `fedwear gateway ingest --firmata PATH` as a real process against the Firmata board emulator on a
 * socat pseudo-terminal: the stored heart rate follows the simulated wearer's true heart rate within
 * 3 bpm, and the stored step count is exactly the steps the wearer's device counted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FirmataBoardEmulator, SimulatedWearer, makeUsers, startPtyPair } from '../../device-sim/index.ts';
import { RecordStore } from '../../gateway/index.ts';
import { runCli, spawnCli, waitForExit, waitForLine } from '../helpers/run-cli.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('fedwear gateway ingest --firmata', () => {
  it('stores heart rate within 3 bpm of the truth and the exact step count', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-ingest-firmata-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const pair = await startPtyPair(dir);
    cleanups.push(() => pair.stop());

    const durationS = 30;
    const [user] = makeUsers({ count: 1, seed: 4, clusters: ['high-bmi-walkers'] });
    const wearer = new SimulatedWearer(user, {
      startMs: Date.UTC(2026, 10, 5, 9),
      durationS,
      seed: 4,
      schedule: [{ activity: 'walking', startS: 0, durationS, speedMpm: 85, labelled: false }],
      stepBounce: true,
    });
    const emulator = new FirmataBoardEmulator({ path: pair.a, wearer, speed: 15 });
    await emulator.start();
    cleanups.push(() => emulator.stop());

    const store = path.join(dir, 'store');
    const statsFile = path.join(dir, 'stats.json');
    const child = spawnCli(['gateway', 'ingest', '--firmata', pair.b, '--device-id', '77', '--store', store, '--stats-json', statsFile, '--idle-exit', '2']);
    cleanups.push(() => void child.kill('SIGKILL'));
    const exited = waitForExit(child);
    const opened = await waitForLine(child, 'stderr', /^opened /);
    expect(opened).toContain('Firmata: FedwearWearableSim.ino, device id 77');
    await once(emulator, 'finished');
    const result = await exited; // the board went quiet: --idle-exit ends the run
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/stopped: no data for 2 s/);

    const records = [...RecordStore.readAll(store)];
    expect(records.every((r) => r.deviceId === 77)).toBe(true);
    expect(records[0]).toMatchObject({ type: 'deviceInfo', model: 'FedwearWearableSim.ino' });
    const t0 = records[0].timestampMs; // the first sample: simulated time 0
    const steps = records.filter((r) => r.type === 'steps');
    expect(steps).toHaveLength(durationS);
    expect(steps.at(-1)!.timestampMs - t0).toBe(durationS * 1000);
    expect(steps.at(-1)!.total).toBe(wearer.truth.stepsTotal.at(-1));
    expect(steps.at(-1)!.total).toBeGreaterThan(30);

    const hr = records.filter((r) => r.type === 'heartRate' && r.timestampMs - t0 >= 10_000);
    expect(hr).toHaveLength(durationS - 9);
    for (const r of hr) {
      if (r.type !== 'heartRate') continue;
      const second = (r.timestampMs - t0) / 1000 - 1;
      expect(Math.abs(r.bpm - wearer.truth.hrBpm[second]), `at ${second} s`).toBeLessThan(3);
      expect(r.confidence).toBeGreaterThan(50);
    }

    const stats = JSON.parse(fs.readFileSync(statsFile, 'utf8'));
    expect(stats.recordsPushed).toBe(records.length);
    expect(stats.recordsStored).toBe(records.length);
    expect(stats.framesBad).toBe(0);
    expect(stats.firmata.connects).toBe(1);
    expect(stats.firmata.board.samples).toBe(durationS * 50 + 1);
    expect(stats.firmata.board.steps.bouncesIgnored).toBe(2 * wearer.truth.stepPulses);
    expect(emulator.stats.rejected).toBe(0);
  });

  it('reconnects when the board goes away and comes back, carrying the sequence on', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-ingest-firmata-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const [user] = makeUsers({ count: 1, seed: 5, clusters: ['active-young'] });
    const board = async (seed: number) => {
      const pair = await startPtyPair(dir); // same link paths each time: the "same USB port"
      const wearer = new SimulatedWearer(user, { startMs: 0, durationS: 8, seed, schedule: 'session' });
      const emulator = new FirmataBoardEmulator({ path: pair.a, wearer, speed: 15 });
      await emulator.start();
      const unplug = async (): Promise<void> => {
        await emulator.stop();
        await pair.stop();
      };
      cleanups.push(unplug);
      return { pair, emulator, unplug };
    };
    const first = await board(1);
    const store = path.join(dir, 'store');
    const statsFile = path.join(dir, 'stats.json');
    const child = spawnCli(['gateway', 'ingest', '--firmata', first.pair.b, '--store', store, '--stats-json', statsFile, '--idle-exit', '4']);
    cleanups.push(() => void child.kill('SIGKILL'));
    const exited = waitForExit(child);
    await waitForLine(child, 'stderr', /^opened /);
    await once(first.emulator, 'finished');
    let log = '';
    child.stderr!.on('data', (d) => (log += d));
    const gone = waitForLine(child, 'stderr', /^board disconnected/).catch((e: Error) => {
      throw new Error(`${e.message}; its log:\n${log}`);
    });
    await first.unplug();
    await gone;
    const second = await board(2);
    await once(second.emulator, 'started'); // the gateway found it again and turned reporting on
    await once(second.emulator, 'finished');
    const result = await exited;
    expect(result.code, result.stderr).toBe(0);

    const records = [...RecordStore.readAll(store)];
    const infos = records.filter((r) => r.type === 'deviceInfo');
    expect(infos).toHaveLength(2); // one per connection
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i)); // no restart, no gap
    // Unplugging may cut off what was still in flight from the first board; the second runs to its end.
    const split = records.indexOf(infos[1]);
    expect(records.slice(0, split).filter((r) => r.type === 'steps').length).toBeGreaterThanOrEqual(5);
    expect(records.slice(split).filter((r) => r.type === 'steps')).toHaveLength(8);
    const stats = JSON.parse(fs.readFileSync(statsFile, 'utf8'));
    expect(stats.reconnects).toBe(1);
    expect(stats.firmata.connects).toBe(2);
    expect(stats.recordsStored).toBe(records.length);
  });

  it('refuses to run with two sources, naming the choice', async () => {
    const r = await runCli(['gateway', 'ingest', '--firmata', '/dev/null', '--in', '/dev/null', '--store', path.join(os.tmpdir(), 'never')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/give exactly one of --serial PATH, --in FILE, --firmata PATH or --gatt FILE/);
  });
});
