/**
 * The durable outbox: what enqueue() returned survives anything, what ack() returned is gone for
 * good, order is kept across reopen and compaction, and a crash (a real SIGKILL of a child process
 * writing as fast as it can) loses nothing it acknowledged and resurrects nothing it removed.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_FILE, Outbox, lockDataDir, type OutboxItem } from '../../gateway/index.ts';
import { REPO } from '../helpers/run-cli.ts';
import { removeTempDirs, tempDir } from './helpers.ts';

afterEach(() => removeTempDirs());

const item = (i: number, over: Partial<OutboxItem> = {}): OutboxItem => ({
  kind: 'update',
  topic: `fedwear/v1/updates/gw-${i}`,
  retain: false,
  roundId: i,
  mode: 'buffered',
  maxStaleness: 1,
  deadlineMs: 1000 + i,
  createdAt: i,
  payload: Uint8Array.from({ length: 10 + i }, (_, k) => (k * i) & 255),
  ...over,
});

describe('Outbox', () => {
  it('keeps pending entries, with their metadata and bytes, in order across reopen; acked ones are gone', () => {
    const dir = tempDir('outbox');
    const box = Outbox.open(dir);
    const put = box.enqueue([item(1), item(2), item(3, { kind: 'ledger', ledgerIndex: 4 })]);
    expect(put.map((e) => e.seq)).toEqual([1, 2, 3]);
    box.ack(1, 'acked');
    box.close();
    const again = Outbox.open(dir);
    expect(again.pending().map((e) => e.seq)).toEqual([2, 3]);
    expect(again.head()).toEqual({ ...item(2), seq: 2 });
    expect(again.ledgerWatermark).toBe(4);
    expect(again.enqueue([item(9)])[0].seq).toBe(4);
    expect(() => again.ack(1, 'acked')).toThrow(/no pending entry 1/);
    again.close();
  });

  it('cuts a torn tail on open (a write the caller never saw return) and appends after it', () => {
    const dir = tempDir('outbox-torn');
    const box = Outbox.open(dir);
    box.enqueue([item(1), item(2)]);
    box.close();
    const file = path.join(dir, 'outbox.log');
    const good = fs.statSync(file).size;
    // Half of a third entry: what a crash in the middle of write() leaves.
    const half = fs.readFileSync(file).subarray(0, Math.floor(good / 2));
    fs.appendFileSync(file, half.subarray(0, 25));
    const again = Outbox.open(dir);
    expect(again.recovery).toMatchObject({ pending: 2, truncatedTailBytes: 25 });
    expect(fs.statSync(file).size).toBe(good);
    again.enqueue([item(3)]);
    again.close();
    expect(Outbox.open(dir).pending().map((e) => e.roundId)).toEqual([1, 2, 3]);
  });

  it('compacts once mostly acknowledged: the file stays small, seq numbers and the ledger watermark carry on', () => {
    const dir = tempDir('outbox-compact');
    const box = Outbox.open(dir, { compactAfterBytes: 4096 });
    for (let i = 0; i < 300; i++) {
      const [e] = box.enqueue([item(i % 50, { kind: 'ledger', ledgerIndex: i })]);
      if (i % 10 !== 0) box.ack(e.seq, 'acked');
    }
    box.close();
    // Without compaction it would hold 300 PUTs and 270 ACKs (~70 KB); compaction keeps it near twice the live entries.
    expect(fs.statSync(path.join(dir, 'outbox.log')).size).toBeLessThan(16 * 1024);
    const again = Outbox.open(dir, { compactAfterBytes: 4096 });
    expect(again.depth).toBe(30);
    expect(again.pending().map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, k) => 1 + 10 * k));
    expect(again.ledgerWatermark).toBe(299);
    expect(again.enqueue([item(1)])[0].seq).toBe(301);
    again.close();
  });

  it('sets refused entries aside with their bytes; dropped ones are simply gone', () => {
    const dir = tempDir('outbox-refused');
    const box = Outbox.open(dir);
    box.enqueue([item(1), item(2)]);
    box.ack(1, 'refused', 'dropped by the broker');
    box.ack(2, 'dropped', 'too-stale');
    box.close();
    const aside = Outbox.readRefused(dir);
    expect(aside).toHaveLength(1);
    expect(aside[0]).toMatchObject({ seq: 1, kind: 'update', topic: 'fedwear/v1/updates/gw-1', roundId: 1, reason: 'dropped by the broker' });
    expect(Array.from(aside[0].payload)).toEqual(Array.from(item(1).payload));
    expect(Outbox.open(dir).depth).toBe(0);
  });

  it('SIGKILL at any moment: every entry the child saw enqueued is pending unless it saw it acked', async () => {
    const dir = tempDir('outbox-crash');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'fixtures/outbox-child.ts'), dir], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const enq = new Map<number, number>();
    const acked = new Set<number>();
    let lines = 0;
    const closed = new Promise<NodeJS.Signals | null>((r) => child.once('close', (_c, sig) => r(sig)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [what, seq, len] = line.split(' ');
      if (what === 'enq') enq.set(Number(seq), Number(len));
      else acked.add(Number(seq));
      // Kill after ~100 operations, while it keeps writing.
      if (++lines === 150) child.kill('SIGKILL');
    });
    expect(await closed, stderr).toBe('SIGKILL');
    const box = Outbox.open(dir);
    const pending = new Map(box.pending().map((e) => [e.seq, e]));
    for (const seq of acked) expect(pending.has(seq), `acked ${seq} came back`).toBe(false);
    for (const [seq, len] of enq) if (pending.has(seq)) expect(pending.get(seq)?.payload.length).toBe(len);
    // A reported entry may be missing only if it was the head whose ack was in flight at the kill.
    const notAcked = [...enq.keys()].filter((s) => !acked.has(s)).sort((a, b) => a - b);
    const vanished = notAcked.filter((s) => !pending.has(s));
    expect(vanished.length, `lost: ${vanished.join(', ')}`).toBeLessThanOrEqual(1);
    if (vanished.length) expect(vanished[0]).toBe(notAcked[0]);
    // Beyond what it reported: at most the one enqueue in flight when the signal landed.
    const unreported = [...pending.keys()].filter((s) => !enq.has(s));
    expect(unreported.length).toBeLessThanOrEqual(1);
    if (unreported.length) expect(unreported[0]).toBe(Math.max(...enq.keys()) + 1);
    expect(box.pending().map((e) => e.seq)).toEqual([...pending.keys()].sort((a, b) => a - b));
    box.close();
  });
});

describe('data directory lock', () => {
  it('one gateway per data directory; the lock of a process that died is taken over', () => {
    const dir = tempDir('lock');
    const unlock = lockDataDir(dir);
    expect(() => lockDataDir(dir)).toThrow(/in use by another gateway in this process/);
    unlock();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    // A crashed owner: its pid is in the file, the process is gone.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${dead}\n`);
    const again = lockDataDir(dir);
    expect(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    again();
    // A live owner (pid 1 always exists) keeps it.
    fs.writeFileSync(path.join(dir, LOCK_FILE), '1\n');
    expect(() => lockDataDir(dir)).toThrow(/in use by another gateway process \(pid 1\)/);
  });
});
