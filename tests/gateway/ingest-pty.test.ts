import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cobsEncode, crc16, encodeFrame, encodeRecord, type DeviceRecord } from '../../firmware-bindings/index.ts';
import { RecordStore } from '../../gateway/index.ts';
import { startPtyPair, type PtyPair } from '../../device-sim/index.ts';
import { runCli, spawnCli, waitForExit, waitForLine } from '../helpers/run-cli.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tmpdir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-ingest-'));
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

async function ptyPair(): Promise<PtyPair> {
  const pair = await startPtyPair(tmpdir());
  cleanups.push(() => pair.stop());
  return pair;
}

/** Records a test can recognise one by one: heart rate with bpm encoding the index. */
function records(deviceId: number, from: number, count: number): DeviceRecord[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return { type: 'heartRate', deviceId, seq: i, timestampMs: 1_700_000_000_000 + i * 1000, bpm: 40 + (i % 1500) / 10, confidence: i % 101 };
  });
}

/** Writes through the pty asynchronously (libuv threads), so the event loop keeps serving the child. */
function openDevice(pair: PtyPair): { write(b: Uint8Array): Promise<void>; close(): Promise<void> } {
  const ws = fs.createWriteStream(pair.a);
  cleanups.push(() => new Promise<void>((r) => (ws.closed ? r() : ws.end(() => r()))));
  return {
    write: (b) => new Promise((resolve, reject) => ws.write(b, (err) => (err ? reject(err) : resolve()))),
    close: () => new Promise((r) => ws.end(() => r())),
  };
}

/** A frame with a valid CRC whose content was changed before framing. */
function reframe(rec: DeviceRecord, edit: (raw: Uint8Array) => void): Uint8Array {
  const raw = encodeRecord(rec);
  const body = raw.subarray(0, raw.length - 2);
  edit(body);
  const crc = crc16(body);
  raw[raw.length - 2] = crc >> 8;
  raw[raw.length - 1] = crc & 0xff;
  return Buffer.concat([cobsEncode(raw), Buffer.from([0])]);
}

const stored = (dir: string): DeviceRecord[] => [...RecordStore.readAll(dir)];

describe('gateway ingest over a socat pseudo-terminal', () => {
  it('stores every good frame in order and counts garbage and corrupted frames by kind', async () => {
    const pair = await ptyPair();
    const store = path.join(pair.dir, 'store');
    const statsFile = path.join(pair.dir, 'stats.json');
    const sent = records(7, 0, 300);
    const child = spawnCli(['gateway', 'ingest', '--serial', pair.b, '--store', store, '--stats-json', statsFile, '--exit-after', String(sent.length)]);
    const done = waitForExit(child);
    await waitForLine(child, 'stderr', /^opened /);

    const dev = openDevice(pair);
    const badCrc = encodeFrame(records(7, 10_000, 1)[0]);
    badCrc[3] ^= 0x40; // a flipped bit inside the frame: the CRC no longer matches
    const unknownType = reframe(records(7, 10_001, 1)[0], (raw) => (raw[1] = 0x3f)); // byte 1: record type
    const badVersion = reframe(records(7, 10_002, 1)[0], (raw) => (raw[0] = 9)); // byte 0: protocol version
    const expectedErrors = { crc: 0, unknownType: 0, cobs: 0, version: 0 };
    for (const [i, rec] of sent.entries()) {
      if (i === 50) {
        await dev.write(Buffer.from([0x13, 0x37, 0xff, 0x00])); // garbage ending in a delimiter: one bad frame
        expectedErrors.cobs++;
      }
      if (i === 120) {
        await dev.write(badCrc);
        expectedErrors.crc++;
      }
      if (i === 200) {
        await dev.write(unknownType);
        await dev.write(badVersion);
        expectedErrors.unknownType++;
        expectedErrors.version++;
      }
      await dev.write(encodeFrame(rec));
    }
    const result = await done;
    expect(result.code, result.stderr).toBe(0);
    const stats = JSON.parse(fs.readFileSync(statsFile, 'utf8'));
    expect(stats.framesOk).toBe(sent.length);
    expect(stats.recordsStored).toBe(sent.length);
    expect(stats.errors.crc).toBe(expectedErrors.crc);
    expect(stats.errors.unknownType).toBe(expectedErrors.unknownType);
    expect(stats.errors.version).toBe(expectedErrors.version);
    expect(stats.framesBad).toBe(stats.errors.crc + stats.errors.cobs + stats.errors.length + stats.errors.unknownType + stats.errors.version + stats.errors.field);
    expect(stats.errors.cobs).toBe(expectedErrors.cobs);
    expect(stats.framesBad).toBe(4);
    // The bad-CRC frame's seq (10000) was never accepted, so no gap is recorded around it.
    expect(stats.seqGaps).toBe(0);
    expect(stored(store)).toEqual(sent);
    expect(result.stderr).toMatch(/frames ok 300, frames bad/);
  });

  it('loses nothing it acknowledged when killed with SIGKILL mid-stream, and continues after a restart', async () => {
    const pair = await ptyPair();
    const store = path.join(pair.dir, 'store');
    const first = records(9, 0, 2000);
    const child = spawnCli(['gateway', 'ingest', '--serial', pair.b, '--store', store, '--print-acks']);
    const exited = waitForExit(child);
    await waitForLine(child, 'stderr', /^opened /);
    const dev = openDevice(pair);
    let acked = 0;
    const ackedEnough = new Promise<void>((resolve) => {
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) {
          acked = Math.max(acked, JSON.parse(l).recordsStored);
          if (acked >= 500) resolve();
        }
      });
    });
    // Keep the device busy in the background while we wait for acknowledgements.
    const writer = (async () => {
      for (const rec of first) {
        if (child.exitCode !== null || child.signalCode !== null) break;
        await dev.write(encodeFrame(rec));
      }
    })();
    await ackedEnough;
    child.kill('SIGKILL');
    const killed = await exited;
    expect(killed.signal).toBe('SIGKILL');
    await writer;

    const afterCrash = stored(store);
    expect(afterCrash.length).toBeGreaterThanOrEqual(acked);
    expect(afterCrash).toEqual(first.slice(0, afterCrash.length)); // a prefix: in order, nothing invented

    // Restart on the same store: it opens cleanly and keeps appending.
    const second = records(9, 5000, 200);
    const statsFile = path.join(pair.dir, 'stats2.json');
    const again = spawnCli(['gateway', 'ingest', '--serial', pair.b, '--store', store, '--stats-json', statsFile, '--idle-exit', '2']);
    const againDone = waitForExit(again);
    await waitForLine(again, 'stderr', /^opened /);
    for (const rec of second) await dev.write(encodeFrame(rec));
    const r2 = await againDone;
    expect(r2.code, r2.stderr).toBe(0);
    const all = stored(store);
    expect(all.slice(0, afterCrash.length)).toEqual(afterCrash);
    // Whatever of the first batch was still in the pty buffer may arrive first; the second batch arrives whole, in order.
    const tail = all.slice(afterCrash.length);
    expect(tail.slice(-second.length)).toEqual(second);
    for (const rec of tail.slice(0, -second.length)) expect(first).toContainEqual(rec);
  });

  it('reconnects when the serial device disappears and returns', async () => {
    const dir = tmpdir();
    const store = path.join(dir, 'store');
    let pair = await startPtyPair(dir);
    const child = spawnCli(['gateway', 'ingest', '--serial', pair.b, '--store', store, '--print-acks', '--exit-after', '100', '--stats-json', path.join(dir, 's.json')]);
    const done = waitForExit(child);
    await waitForLine(child, 'stderr', /^opened /);
    let dev = openDevice(pair);
    const child50 = waitForLine(child, 'stdout', /"recordsStored":50}/);
    for (const rec of records(3, 0, 50)) await dev.write(encodeFrame(rec));
    await child50; // all 50 durable before the unplug, so the count below is exact
    await dev.close();
    const disconnected = waitForLine(child, 'stderr', /device disconnected/);
    await pair.stop(); // the "USB cable" is pulled: socat removes the device nodes
    await disconnected;
    pair = await startPtyPair(dir); // plugged back in at the same path
    cleanups.push(() => pair.stop());
    await waitForLine(child, 'stderr', /^opened /);
    dev = openDevice(pair);
    for (const rec of records(3, 50, 50)) await dev.write(encodeFrame(rec));
    const result = await done;
    expect(result.code, result.stderr).toBe(0);
    const stats = JSON.parse(fs.readFileSync(path.join(dir, 's.json'), 'utf8'));
    expect(stats.reconnects).toBeGreaterThanOrEqual(1);
    const got = stored(store);
    expect(got).toEqual(records(3, 0, 100));
  });
});

describe('gateway store export', () => {
  it('prints stored records as JSON lines', async () => {
    const dir = tmpdir();
    const file = path.join(dir, 'frames.bin');
    const sent = records(1, 0, 20);
    fs.writeFileSync(file, Buffer.concat(sent.map((r) => encodeFrame(r))));
    const ingest = await runCli(['gateway', 'ingest', '--in', file, '--store', path.join(dir, 'store')]);
    expect(ingest.code, ingest.stderr).toBe(0);
    const out = await runCli(['gateway', 'store', 'export', '--store', path.join(dir, 'store')]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual(sent);
  });

  it('names the missing store', async () => {
    const out = await runCli(['gateway', 'store', 'export', '--store', '/nonexistent/fedwear-store']);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/no store at \/nonexistent\/fedwear-store/);
  });
});
