/**
 * The serial device vanishes and returns, three times, while `fedwear gateway ingest` reads it:
 * socat (the "USB cable") is SIGKILLed, which leaves its device links dangling (a SIGTERM, as in
 * tests/gateway/ingest-pty.test.ts, removes them cleanly), and a new socat comes up at the same
 * paths. The records the device produced while unplugged never arrive: ingestion resumes, nothing
 * is stored twice, and each loss is counted as a sequence gap.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startPtyPair, type PtyPair } from '../../device-sim/index.ts';
import { encodeFrame, type DeviceRecord } from '../../firmware-bindings/index.ts';
import { RecordStore } from '../../gateway/index.ts';
import { spawnCli, waitForExit, waitForLine } from '../helpers/run-cli.ts';
import { removeTempDirs, tempDir } from './temp-dirs.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  removeTempDirs();
});

const record = (i: number): DeviceRecord => ({ type: 'heartRate', deviceId: 5, seq: i, timestampMs: 1_780_000_000_000 + i * 1000, bpm: 60 + (i % 60), confidence: 90 });

function openDevice(pair: PtyPair): { write(b: Uint8Array): Promise<void>; close(): Promise<void> } {
  const ws = fs.createWriteStream(pair.a);
  cleanups.push(() => new Promise<void>((r) => (ws.closed ? r() : ws.end(() => r()))));
  return {
    write: (b) => new Promise((resolve, reject) => ws.write(b, (err) => (err ? reject(err) : resolve()))),
    close: () => new Promise((r) => ws.end(() => r())),
  };
}

describe('reliability: the serial device vanishes (socat SIGKILLed) and returns', { timeout: 60_000 }, () => {
  it('resumes after each return, stores every record sent while connected exactly once, and counts the lost ones as gaps', async () => {
    const dir = tempDir('rel-serial');
    const store = path.join(dir, 'store');
    const statsFile = path.join(dir, 'stats.json');
    const CYCLES = 3;
    const SENT = 30; // per connected stretch
    const LOST = 10; // produced while unplugged
    const stretch = (c: number): number[] => Array.from({ length: SENT }, (_, k) => c * (SENT + LOST) + k);
    const expected = Array.from({ length: CYCLES + 1 }, (_, c) => stretch(c)).flat();

    let pair = await startPtyPair(dir);
    const pairs = [pair];
    cleanups.push(async () => {
      for (const p of pairs) await p.stop();
    });
    const child = spawnCli(['gateway', 'ingest', '--serial', pair.b, '--store', store, '--print-acks', '--exit-after', String(expected.length), '--stats-json', statsFile]);
    cleanups.push(() => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')));
    const done = waitForExit(child);
    await waitForLine(child, 'stderr', /^opened /);

    let stored = 0;
    for (let c = 0; c < CYCLES; c++) {
      const dev = openDevice(pair);
      stored += SENT;
      const acked = waitForLine(child, 'stdout', new RegExp(`"recordsStored":${stored}[,}]`));
      for (const i of stretch(c)) await dev.write(encodeFrame(record(i)));
      await acked; // durable before the cable goes, so the counts below are exact
      await dev.close();
      const disconnected = waitForLine(child, 'stderr', /device disconnected/);
      const reopened = waitForLine(child, 'stderr', /^opened /);
      pair.proc.kill('SIGKILL'); // the device vanishes; its links stay behind, dangling
      await disconnected;
      // While unplugged the device goes on producing records (seq advances) that nobody receives.
      pair = await startPtyPair(dir); // back at the same paths
      pairs.push(pair);
      await reopened;
    }
    const dev = openDevice(pair);
    for (const i of stretch(CYCLES)) await dev.write(encodeFrame(record(i)));
    const result = await done;
    expect(result.code, result.stderr).toBe(0);

    const got = [...RecordStore.readAll(store)];
    expect(got).toEqual(expected.map(record)); // in order, none twice, none invented
    const stats = JSON.parse(fs.readFileSync(statsFile, 'utf8'));
    expect(stats.reconnects).toBeGreaterThanOrEqual(CYCLES);
    expect(stats.seqGapEvents).toBe(CYCLES);
    expect(stats.seqGaps).toBe(CYCLES * LOST);
    console.log(JSON.stringify({ reliability: 'serial-vanish', vanishes: CYCLES, reconnects: stats.reconnects, recordsStored: got.length, seqGaps: stats.seqGaps, seqGapEvents: stats.seqGapEvents }));
  });
});
