/**
 * `fedwear sim --gatt` and `--firmata` as real processes, read by `fedwear gateway ingest --gatt` and
 * `--firmata`: a Bluetooth LE capture replays into the store with the device's exact step count and
 * its heart rate to a whole bpm, bad capture lines are counted and named; a simulated Firmata board on
 * a socat pseudo-terminal gives the gateway the wearer's exact steps.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedWearer, makeUsers, parseSimCommand, simulateTicks, startPtyPair } from '../../device-sim/index.ts';
import { RecordStore, parseGattCaptureLine } from '../../gateway/index.ts';
import { runCli, spawnCli, waitForExit, waitForLine } from '../helpers/run-cli.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-sim-devices-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const START = '2026-11-05T09:00:00Z';

describe('fedwear sim --gatt → fedwear gateway ingest --gatt', () => {
  it('stores what the simulated device counted: every heart rate to a whole bpm and the exact steps', async () => {
    const dir = tempDir();
    const capture = path.join(dir, 'strap.jsonl');
    const sim = await runCli(['sim', '--duration', '300', '--seed', '3', '--schedule', 'session', '--start', START, '--gatt', capture]);
    expect(sim.code, sim.stderr).toBe(0);
    expect(sim.stderr).toMatch(/^sim: 601 GATT notifications .* written to /m);
    // A capture can hold damage: a line that is not a notification and a payload the codec refuses.
    fs.appendFileSync(capture, 'garbage\n{"timestampMs":1,"characteristic":"2a37","data":"ff"}\n');

    const store = path.join(dir, 'store');
    const statsFile = path.join(dir, 'stats.json');
    const ingest = await runCli(['gateway', 'ingest', '--gatt', capture, '--device-id', '9', '--store', store, '--stats-json', statsFile]);
    expect(ingest.code, ingest.stderr).toBe(0);
    expect(ingest.stderr).toContain(`${capture}:602: skipped: not JSON`);
    expect(ingest.stderr).toMatch(/stopped: end of GATT capture/);

    // The same device simulated here: what the strap and foot pod saw.
    const [user] = makeUsers({ count: 1, seed: 3 });
    const cmd = parseSimCommand({ duration: '300', seed: '3', schedule: 'session', start: START, gatt: capture });
    const ticks = [...simulateTicks(user, { startMs: cmd.startMs, durationS: 300, seed: 3, schedule: 'session' })];
    const records = [...RecordStore.readAll(store)];
    expect(records.every((r) => r.deviceId === 9)).toBe(true);
    const steps = records.filter((r) => r.type === 'steps');
    expect(steps.at(-1)!.total).toBe(ticks.at(-1)!.reading.stepsTotal);
    const hr = records.filter((r) => r.type === 'heartRate');
    expect(hr).toHaveLength(ticks.length);
    hr.forEach((r, i) => r.type === 'heartRate' && expect(r.bpm).toBe(Math.round(ticks[i].reading.bpm)));

    const stats = JSON.parse(fs.readFileSync(statsFile, 'utf8'));
    expect(stats.gatt).toMatchObject({ lines: 603, linesBad: 1, gatt: { ok: { heartRateMeasurement: 300, rscMeasurement: 301 }, malformed: { heartRateMeasurement: 1, rscMeasurement: 0 } } });
    expect(stats.recordsStored).toBe(records.length);
  });

  it('names what is wrong with a capture line', () => {
    expect(parseGattCaptureLine('{"timestampMs":5,"characteristic":"2a37","data":"064e"}')).toMatchObject({ ok: true, timestampMs: 5, characteristic: '2a37', data: Uint8Array.from([6, 0x4e]) });
    expect(parseGattCaptureLine('[1]')).toEqual({ ok: false, error: 'not a JSON object' });
    expect(parseGattCaptureLine('{"timestampMs":-1,"characteristic":"2a37","data":""}')).toEqual({ ok: false, error: 'timestampMs: expected epoch milliseconds, got -1' });
    expect(parseGattCaptureLine('{"timestampMs":1,"data":""}')).toEqual({ ok: false, error: 'characteristic: expected a UUID such as "2a37", got undefined' });
    expect(parseGattCaptureLine('{"timestampMs":1,"characteristic":"2a37","data":"0g"}')).toEqual({ ok: false, error: 'data: expected the value\'s bytes in hex, got "0g"' });
  });

  it('refuses options that do not fit one device, naming the flag', async () => {
    const two = await runCli(['sim', '--duration', '10', '--users', '2', '--gatt', '/tmp/x.jsonl']);
    expect(two.code).not.toBe(0);
    expect(two.stderr).toMatch(/--users: --firmata and --gatt simulate one wearer's device, got 2 users/);
    const max = await runCli(['sim', '--duration', '10', '--speed', 'max', '--firmata', '/tmp/nowhere']);
    expect(max.stderr).toMatch(/--speed: the Firmata board samples on a clock/);
  });
});

describe('fedwear sim --firmata → fedwear gateway ingest --firmata', () => {
  it('serves a board on a pseudo-terminal that the gateway reads, with the wearer\'s exact step count', async () => {
    const dir = tempDir();
    const pair = await startPtyPair(dir);
    cleanups.push(() => pair.stop());
    const durationS = 300; // the session schedule starts with 2-4 minutes of rest
    const args = ['--duration', String(durationS), '--seed', '4', '--clusters', 'high-bmi-walkers', '--schedule', 'session', '--start', START];
    const sim = spawnCli(['sim', ...args, '--speed', '50', '--firmata', pair.a]);
    cleanups.push(() => void sim.kill('SIGKILL'));
    const simExit = waitForExit(sim);
    await waitForLine(sim, 'stderr', /^sim: Firmata board .* on /);

    const store = path.join(dir, 'store');
    const ingest = spawnCli(['gateway', 'ingest', '--firmata', pair.b, '--device-id', '5', '--store', store, '--idle-exit', '2']);
    cleanups.push(() => void ingest.kill('SIGKILL'));
    const ingestExit = waitForExit(ingest);
    const simResult = await simExit; // the board finishes its simulated time, then the command ends
    expect(simResult.code, simResult.stderr).toBe(0);
    expect(simResult.stderr).toMatch(new RegExp(`board finished after ${durationS} simulated s: ${durationS * 50 + 1} samples`));
    const ingestResult = await ingestExit; // the board went quiet: --idle-exit
    expect(ingestResult.code, ingestResult.stderr).toBe(0);

    // The same wearer, simulated here.
    const [user] = makeUsers({ count: 1, seed: 4, clusters: ['high-bmi-walkers'] });
    const wearer = new SimulatedWearer(user, { startMs: Date.parse(START), durationS, seed: 4, schedule: 'session', stepBounce: true });
    wearer.hrAt(durationS * 1000);
    const steps = [...RecordStore.readAll(store)].filter((r) => r.type === 'steps');
    expect(steps).toHaveLength(durationS);
    expect(steps.at(-1)!.total).toBe(wearer.truth.stepsTotal.at(-1));
    expect(steps.at(-1)!.total).toBeGreaterThan(50);
  });
});
