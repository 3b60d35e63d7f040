/**
 * The disk fills up while the gateway's record store, privacy ledger and outbox, and the
 * aggregator's journal are being written. Two real faults, no root needed:
 * - RLIMIT_FSIZE (`prlimit --fsize`) on a child process: the write that crosses the limit lands
 *   short and the next fails (EFBIG), which is what a full disk does (a short write, then ENOSPC);
 * - /dev/full (Linux) in process: every write fails with ENOSPC.
 * Each time: the error names the file, and reopening reads back exactly what was acknowledged:
 * nothing half-written kept, nothing unacknowledged restored, nothing acknowledged lost.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Journal } from '../../broker/index.ts';
import { DiskWriteError, Outbox, RecordStore, SegmentLog } from '../../gateway/index.ts';
import { LedgerWriter, rdpAccountant, verifyLedgerFile, writeLedgerKeyPair } from '../../privacy/index.ts';
import { REPO } from '../helpers/run-cli.ts';
import { removeTempDirs, tempDir } from './temp-dirs.ts';
import { fillRecord, journalRecord } from './fixtures/fill-items.ts';

const CHILD = path.join(import.meta.dirname, 'fixtures/fill-disk.ts');
/** Big enough for tsx's own cache files, small enough to fill in a second or two. */
const LIMIT = 192 * 1024;
const errorsSeen: string[] = [];

interface FillResult {
  lines: string[];
  error: { name: string; code?: string; message: string };
}

async function fillUntilFull(target: string, dir: string, limit = LIMIT): Promise<FillResult> {
  const child = spawn('prlimit', [`--fsize=${limit}`, process.execPath, '--import', 'tsx', CHILD, target, dir], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  expect(code, stderr).toBe(0);
  const lines = stdout.trim().split('\n');
  const last = lines.at(-1) as string;
  expect(last, stderr).toMatch(/^error /);
  const error = JSON.parse(last.slice('error '.length)) as FillResult['error'];
  errorsSeen.push(`${target}: ${error.message}`);
  return { lines: lines.slice(0, -1), error };
}

const lastAck = (lines: string[]): number => Number((lines.filter((l) => l.startsWith('ack ')).at(-1) ?? 'ack 0').split(' ')[1]);

afterAll(() => {
  removeTempDirs();
  console.log(JSON.stringify({ reliability: 'disk-full', faultsInjected: errorsSeen.length, errorsSeen }, null, 1));
});

describe('reliability: disk full while writing (RLIMIT_FSIZE: a short write, then a failure)', { timeout: 60_000 }, () => {
  it('record store: the error names the segment; reopening finds exactly the acknowledged records, no torn bytes; appends go on once there is room', async () => {
    const dir = tempDir('rel-full-store');
    const { lines, error } = await fillUntilFull('store', dir);
    const seg = SegmentLog.segmentPath(path.join(dir, 'records'), 1);
    expect(error).toMatchObject({ name: 'DiskWriteError', code: 'EFBIG' });
    expect(error.message).toContain(seg);
    const acked = lastAck(lines);
    expect(acked).toBeGreaterThan(1000);

    const store = RecordStore.open(path.join(dir, 'records'));
    // The failed write was cut off in the failing process itself: nothing torn left for the reopen.
    expect(store.recovery).toMatchObject({ entries: acked, truncatedTailBytes: 0, corruptRegions: 0 });
    expect(store.durableCount).toBe(acked);
    // Space again (no limit in this process): the log goes on after exactly the acknowledged records.
    for (let i = acked; i < acked + 100; i++) store.append(fillRecord(i));
    expect(store.flush()).toBe(acked + 100);
    store.close();
    const back = [...RecordStore.readAll(path.join(dir, 'records'))];
    expect(back).toHaveLength(acked + 100);
    expect(back).toEqual(Array.from({ length: acked + 100 }, (_, i) => fillRecord(i)));
  });

  it('privacy ledger: the error names the ledger; reopening cuts the partial line and verifies with exactly the acknowledged spends', async () => {
    const dir = tempDir('rel-full-ledger');
    await writeLedgerKeyPair(path.join(dir, 'keys'));
    const { lines, error } = await fillUntilFull('ledger', dir, 48 * 1024);
    const file = path.join(dir, 'ledger.jsonl');
    expect(error.code).toBe('EFBIG');
    expect(error.message).toContain(`ledger ${file}`);
    const acked = lastAck(lines);
    expect(acked).toBeGreaterThan(10);

    const key = fs.readFileSync(path.join(dir, 'keys', 'ledger-key.pem'));
    const w = await LedgerWriter.open(file, { privateKey: key, userId: 'alice', deviceId: 'gw-alice', accountant: rdpAccountant, delta: 1e-5 });
    expect(w.entries).toHaveLength(acked);
    // A partial line is either cut now (the write landed short) or was never written.
    const next = await w.recordSpend({ noiseMultiplier: 1.1, sampleRate: 0.01, steps: 10, maxGradNorm: 1, round: acked + 1, modelVersion: 'base-1' });
    expect(next.index).toBe(acked);
    await w.close();
    const verdict = await verifyLedgerFile(file, { publicKey: key, accountant: rdpAccountant, delta: 1e-5 });
    expect(verdict.faults).toEqual([]);
    expect(verdict.entries).toBe(acked + 1);
  });

  it('gateway outbox: the error names outbox.log; reopening has exactly the entries enqueued and not acknowledged, no torn bytes', async () => {
    const dir = tempDir('rel-full-outbox');
    const { lines, error } = await fillUntilFull('outbox', dir);
    expect(error).toMatchObject({ name: 'DiskWriteError', code: 'EFBIG' });
    expect(error.message).toContain(path.join(dir, 'outbox', 'outbox.log'));
    const pending = new Set<number>();
    for (const l of lines) {
      const [what, seq] = l.split(' ');
      if (what === 'enq') pending.add(Number(seq));
      if (what === 'acked') pending.delete(Number(seq));
    }
    expect(pending.size).toBeGreaterThan(10);
    const box = Outbox.open(path.join(dir, 'outbox'));
    expect(box.recovery).toMatchObject({ truncatedTailBytes: 0, corruptRegions: 0 });
    expect(box.pending().map((e) => e.seq)).toEqual([...pending].sort((a, b) => a - b));
    box.close();
  });

  it('aggregator journal: the error names the journal; a failed group commit leaves none of its lines, so nothing unacknowledged is restored as accepted', async () => {
    const dir = tempDir('rel-full-journal');
    const { lines, error } = await fillUntilFull('journal', dir);
    const file = path.join(dir, 'journal.jsonl');
    expect(error.message).toContain(`journal ${file}: write failed`);
    expect(error.message).toContain('EFBIG');
    const acked = lastAck(lines);
    expect(acked).toBeGreaterThan(100);
    const opened = Journal.open(file);
    expect(opened.tornBytes).toBe(0);
    expect(opened.records).toEqual(Array.from({ length: acked }, (_, i) => journalRecord(i)));
    await opened.journal.close();
  });
});

describe('reliability: disk full while writing (/dev/full: every write fails with ENOSPC)', () => {
  const devFull = fs.existsSync('/dev/full');

  it.runIf(devFull)('privacy ledger on /dev/full: ENOSPC names the ledger, the writer refuses further spends', async () => {
    const dir = tempDir('rel-devfull-ledger');
    const keys = await writeLedgerKeyPair(path.join(dir, 'keys'));
    const file = path.join(dir, 'ledger.jsonl');
    fs.symlinkSync('/dev/full', file);
    const key = fs.readFileSync(keys.privateKeyPath);
    const w = await LedgerWriter.open(file, { privateKey: key, userId: 'alice', deviceId: 'gw-alice', accountant: rdpAccountant, delta: 1e-5 });
    const spend = { noiseMultiplier: 1.1, sampleRate: 0.01, steps: 10, maxGradNorm: 1, round: 1, modelVersion: 'base-1' };
    const err = await w.recordSpend(spend).then(
      () => null,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err?.code).toBe('ENOSPC');
    expect(err?.message).toContain(`ledger ${file}: write failed`);
    errorsSeen.push(`ledger (/dev/full): ${err?.message}`);
    await expect(w.recordSpend({ ...spend, round: 2 })).rejects.toThrow(/unusable after an earlier write failure/);
    expect(w.entries).toHaveLength(0);
    await w.close();
  });

  it.runIf(devFull)('record store rolling into a segment on /dev/full: ENOSPC names the segment, the records stay pending, the count stays at what was acknowledged', () => {
    const dir = tempDir('rel-devfull-store');
    const entry = 64;
    const log = SegmentLog.open(dir, { segmentBytes: 10 * entry });
    fs.symlinkSync('/dev/full', SegmentLog.segmentPath(dir, 2)); // the next segment is on a full disk
    const body = (i: number): Uint8Array => new Uint8Array(entry - 10).fill(i);
    for (let i = 0; i < 10; i++) log.append(body(i));
    expect(log.flush()).toBe(10); // fills segment 1 and rolls to segment 2
    for (let i = 10; i < 15; i++) log.append(body(i));
    let err: unknown;
    try {
      log.flush();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DiskWriteError);
    expect((err as DiskWriteError).code).toBe('ENOSPC');
    expect((err as DiskWriteError).file).toBe(SegmentLog.segmentPath(dir, 2));
    errorsSeen.push(`store (/dev/full): ${(err as Error).message}`);
    expect(log.durableCount).toBe(10);
    expect(log.pendingCount).toBe(5); // kept for a later flush, not dropped
    // The process goes down with the disk full; the disk is freed (the full segment removed).
    fs.unlinkSync(SegmentLog.segmentPath(dir, 2));
    const again = SegmentLog.open(dir, { segmentBytes: 10 * entry });
    expect(again.durableCount).toBe(10);
    expect([...SegmentLog.readAll(dir)].map((b) => b[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    again.close();
  });
});
