/**
 * The durable outbox: every message the gateway must get to the broker (updates, ledger entries,
 * budget summaries), in the order it must arrive. One append-only file of framed records
 * (gateway/store's entry codec: magic, length, CRC-32), fsynced before any call returns:
 *
 *   PUT  seq, meta (topic, kind, round...), payload     enqueue(): one write + fdatasync per batch
 *   ACK  seq, outcome (acked | dropped | refused)         ack(): after the PUBACK, or a decision not to send
 *   MARK next seq, ledger watermark                       first record of a compacted file
 *
 * Reopening replays the records: the pending entries are the PUTs without an ACK, in seq order. A
 * torn tail (a write in flight at a crash, never acknowledged to the caller) is cut. So an entry the
 * caller saw enqueued is never lost, and an entry is only removed after its ACK record is durable,
 * which the sender writes only after the broker's PUBACK. The one window left is a crash between a
 * PUBACK and the fsync of its ACK: the entry is sent again after the restart. For an update that
 * re-send is byte-identical (Ed25519 is deterministic and the envelope is stored, not rebuilt), so
 * the aggregator rejects it as 'duplicate' rather than counting it twice; a ledger entry is
 * idempotent by its index and hash; the budget summary is retained (last one wins).
 *
 * Refused entries (the broker dropped the connection because of them) are copied to refused.jsonl
 * before their ACK: set aside for an operator (requeueRefused), never re-sent on their own, never lost.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DiskWriteError, encodeEntry, fsyncDir, scanEntries, writeAllDurably } from '../store/index.ts';

export type OutboxKind = 'update' | 'ledger' | 'budget';
export type AckOutcome = 'acked' | 'dropped' | 'refused';

export interface OutboxMeta {
  kind: OutboxKind;
  topic: string;
  retain: boolean;
  /** Updates: the round the update was trained for, and that round's rules (for the stale check). */
  roundId?: number;
  mode?: 'sync' | 'buffered';
  maxStaleness?: number;
  deadlineMs?: number;
  /** Ledger entries: the entry's index (the outbox remembers the highest ever enqueued). */
  ledgerIndex?: number;
  /** Epoch ms when enqueued. */
  createdAt: number;
}

export interface OutboxEntry extends OutboxMeta {
  seq: number;
  payload: Uint8Array;
}

export type OutboxItem = OutboxMeta & { payload: Uint8Array };

/** An entry the broker refused, as kept in refused.jsonl. */
export interface RefusedEntry extends OutboxEntry {
  refusedAt: string;
  reason?: string;
}

export interface OutboxRecovery {
  pending: number;
  /** Bytes of a torn write cut from the end. */
  truncatedTailBytes: number;
  /** Damaged records skipped in the middle (should never happen: fsync before acknowledging). */
  corruptRegions: number;
}

export interface OutboxOptions {
  /** Rewrite the file without acknowledged entries once it is this large and half of it is dead. */
  compactAfterBytes?: number;
}

const PUT = 1;
const ACK = 2;
const MARK = 3;
const OUTCOME_CODE: Record<AckOutcome, number> = { acked: 1, dropped: 2, refused: 3 };
const FILE = 'outbox.log';
const REFUSED_FILE = 'refused.jsonl';


function putBody(e: OutboxEntry): Buffer {
  const { seq, payload, ...meta } = e;
  const m = Buffer.from(JSON.stringify(meta), 'utf8');
  const b = Buffer.allocUnsafe(1 + 8 + 4 + m.length + payload.length);
  b[0] = PUT;
  b.writeBigUInt64LE(BigInt(seq), 1);
  b.writeUInt32LE(m.length, 9);
  m.copy(b, 13);
  b.set(payload, 13 + m.length);
  return b;
}

function ackBody(seq: number, outcome: AckOutcome): Buffer {
  const b = Buffer.allocUnsafe(10);
  b[0] = ACK;
  b.writeBigUInt64LE(BigInt(seq), 1);
  b[9] = OUTCOME_CODE[outcome];
  return b;
}

function markBody(nextSeq: number, ledgerWatermark: number): Buffer {
  return Buffer.concat([Buffer.of(MARK), Buffer.from(JSON.stringify({ nextSeq, ledgerWatermark }), 'utf8')]);
}

export class Outbox {
  readonly dir: string;
  readonly recovery: OutboxRecovery;
  private fd: number;
  private size: number;
  private readonly entries = new Map<number, OutboxEntry>();
  private nextSeq: number;
  private watermark: number;
  private readonly compactAfter: number;
  private closed = false;
  /** The last compaction that could not be written (disk full), until one succeeds. */
  compactionError: DiskWriteError | null = null;

  private constructor(dir: string, fd: number, size: number, recovery: OutboxRecovery, entries: OutboxEntry[], nextSeq: number, watermark: number, compactAfter: number) {
    this.dir = dir;
    this.fd = fd;
    this.size = size;
    this.recovery = recovery;
    for (const e of entries) this.entries.set(e.seq, e);
    this.nextSeq = nextSeq;
    this.watermark = watermark;
    this.compactAfter = compactAfter;
  }

  static open(dir: string, opts: OutboxOptions = {}): Outbox {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, FILE);
    fs.rmSync(`${file}.tmp`, { force: true }); // a compaction that never reached its rename
    const existed = fs.existsSync(file);
    const buf = existed ? fs.readFileSync(file) : Buffer.alloc(0);
    const scan = scanEntries(buf);
    const pending = new Map<number, OutboxEntry>();
    let nextSeq = 1;
    let watermark = -1;
    for (const { body } of scan.entries) {
      const type = body[0];
      if (type === PUT) {
        const seq = Number(body.readBigUInt64LE(1));
        const mLen = body.readUInt32LE(9);
        const meta = JSON.parse(body.subarray(13, 13 + mLen).toString('utf8')) as OutboxMeta;
        pending.set(seq, { ...meta, seq, payload: new Uint8Array(body.subarray(13 + mLen)) });
        nextSeq = Math.max(nextSeq, seq + 1);
        if (meta.ledgerIndex !== undefined) watermark = Math.max(watermark, meta.ledgerIndex);
      } else if (type === ACK) {
        pending.delete(Number(body.readBigUInt64LE(1)));
      } else if (type === MARK) {
        const m = JSON.parse(body.subarray(1).toString('utf8')) as { nextSeq: number; ledgerWatermark: number };
        nextSeq = Math.max(nextSeq, m.nextSeq);
        watermark = Math.max(watermark, m.ledgerWatermark);
      }
    }
    if (scan.tornTailBytes > 0) {
      fs.truncateSync(file, scan.goodEnd);
      const tfd = fs.openSync(file, 'r+');
      fs.fsyncSync(tfd);
      fs.closeSync(tfd);
    }
    const fd = fs.openSync(file, 'a');
    if (!existed) fsyncDir(dir);
    const entries = [...pending.values()].sort((a, b) => a.seq - b.seq);
    const recovery: OutboxRecovery = { pending: entries.length, truncatedTailBytes: scan.tornTailBytes, corruptRegions: scan.corruptRegions.length };
    const box = new Outbox(dir, fd, scan.goodEnd, recovery, entries, nextSeq, watermark, opts.compactAfterBytes ?? 256 * 1024);
    box.maybeCompact();
    return box;
  }

  /** Entries not yet acknowledged. */
  get depth(): number {
    return this.entries.size;
  }

  /** The highest ledger index ever enqueued (-1: none), even after its entry was sent. */
  get ledgerWatermark(): number {
    return this.watermark;
  }

  /** The oldest pending entry: the next to send. */
  head(): OutboxEntry | undefined {
    for (const e of this.entries.values()) return e;
    return undefined;
  }

  pending(): OutboxEntry[] {
    return [...this.entries.values()];
  }

  /** Appends the items in order with one write and one fdatasync; returns them with their seq. */
  enqueue(items: readonly OutboxItem[]): OutboxEntry[] {
    this.checkOpen();
    const out = items.map((it) => ({ ...it, seq: this.nextSeq++ }));
    this.write(Buffer.concat(out.map((e) => encodeEntry(putBody(e)))));
    for (const e of out) {
      this.entries.set(e.seq, e);
      if (e.ledgerIndex !== undefined) this.watermark = Math.max(this.watermark, e.ledgerIndex);
    }
    return out;
  }

  /** Removes a pending entry for good: durable before it returns. Refused entries are copied aside first. */
  ack(seq: number, outcome: AckOutcome, reason?: string): void {
    this.checkOpen();
    const e = this.entries.get(seq);
    if (!e) throw new Error(`outbox: no pending entry ${seq}`);
    if (outcome === 'refused') {
      const { payload, ...meta } = e;
      const line = JSON.stringify({ ...meta, refusedAt: new Date().toISOString(), reason, payloadBase64: Buffer.from(payload).toString('base64') });
      const fd = fs.openSync(path.join(this.dir, REFUSED_FILE), 'a');
      try {
        fs.writeSync(fd, line + '\n');
        fs.fdatasyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
    this.write(encodeEntry(ackBody(seq, outcome)));
    this.entries.delete(seq);
    this.maybeCompact();
  }

  /** Entries set aside as refused (refused.jsonl), oldest first. */
  static readRefused(dir: string): RefusedEntry[] {
    const file = path.join(dir, REFUSED_FILE);
    if (!fs.existsSync(file)) return [];
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        const { payloadBase64, ...rest } = JSON.parse(l) as Omit<RefusedEntry, 'payload'> & { payloadBase64: string };
        return { ...rest, payload: new Uint8Array(Buffer.from(payloadBase64, 'base64')) };
      });
  }

  /**
   * An operator's decision, once the cause of a refusal is fixed (the broker's ACL, its storage):
   * puts the refused entries back at the end of the outbox, in their order, and archives
   * refused.jsonl as refused-<time>.jsonl. Only while the service is stopped (one writer per outbox).
   */
  requeueRefused(): number {
    this.checkOpen();
    const refused = Outbox.readRefused(this.dir);
    if (refused.length === 0) return 0;
    this.enqueue(refused.map(({ seq: _seq, refusedAt: _at, reason: _r, ...item }) => item));
    const file = path.join(this.dir, REFUSED_FILE);
    fs.renameSync(file, path.join(this.dir, `refused-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`));
    fsyncDir(this.dir);
    return refused.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('outbox is closed');
  }

  private write(bytes: Buffer): void {
    // On failure the file is cut back to this.size (nothing half-written stays) and the error names it.
    writeAllDurably(this.fd, bytes, path.join(this.dir, FILE), this.size);
    this.size += bytes.length;
  }

  /** Rewrites the file as MARK + pending PUTs (temp file, fsync, rename, fsync dir) once it is mostly dead. */
  private maybeCompact(): void {
    if (this.size < this.compactAfter) return;
    const live = [...this.entries.values()].map((e) => encodeEntry(putBody(e)));
    const liveBytes = live.reduce((a, b) => a + b.length, 0);
    if (liveBytes * 2 > this.size) return;
    const file = path.join(this.dir, FILE);
    const tmp = `${file}.tmp`;
    const bytes = Buffer.concat([encodeEntry(markBody(this.nextSeq, this.watermark)), ...live]);
    try {
      const tfd = fs.openSync(tmp, 'w');
      try {
        let done = 0;
        while (done < bytes.length) done += fs.writeSync(tfd, bytes, done);
        fs.fsyncSync(tfd);
      } finally {
        fs.closeSync(tfd);
      }
    } catch (err) {
      // Compaction only saves space: with the disk full, keep the complete log as it is (the ack
      // that triggered this is durable already) and try again at a later ack.
      fs.rmSync(tmp, { force: true });
      this.compactionError = new DiskWriteError(tmp, err);
      return;
    }
    this.compactionError = null;
    fs.renameSync(tmp, file);
    fsyncDir(this.dir);
    fs.closeSync(this.fd);
    this.fd = fs.openSync(file, 'a');
    this.size = bytes.length;
  }
}
