import fs from 'node:fs';
import path from 'node:path';
import { fsyncDir, writeAllDurably } from './durable-write.ts';
import { encodeEntry, scanEntries } from './entry-codec.ts';

export interface SegmentLogOptions {
  /** Start a new segment file once the current one reaches this size. */
  segmentBytes?: number;
}

export interface RecoveryReport {
  segments: number;
  entries: number;
  /** Damaged entries skipped in the middle of sealed data. */
  corruptRegions: number;
  /** Bytes of an unacknowledged torn write cut from the end of the last segment. */
  truncatedTailBytes: number;
}

const SEGMENT_RE = /^seg-(\d{8})\.log$/;
const segmentName = (n: number): string => `seg-${String(n).padStart(8, '0')}.log`;


/**
 * An append-only log of opaque entries in numbered segment files. Appends are buffered; `flush()`
 * writes and fsyncs them, and only then are they acknowledged (counted in `durableCount`). A crash
 * can lose only unacknowledged entries; the torn tail it leaves is cut on the next open.
 */
export class SegmentLog {
  readonly dir: string;
  readonly recovery: RecoveryReport;
  private readonly segmentBytes: number;
  private fd: number;
  private segmentNo: number;
  private segmentSize: number;
  private pending: Buffer[] = [];
  private durable: number;
  private closed = false;

  private constructor(dir: string, segmentBytes: number, fd: number, segmentNo: number, size: number, recovery: RecoveryReport) {
    this.dir = dir;
    this.segmentBytes = segmentBytes;
    this.fd = fd;
    this.segmentNo = segmentNo;
    this.segmentSize = size;
    this.recovery = recovery;
    this.durable = recovery.entries;
  }

  static open(dir: string, opts: SegmentLogOptions = {}): SegmentLog {
    fs.mkdirSync(dir, { recursive: true });
    const numbers = SegmentLog.segmentNumbers(dir);
    const recovery: RecoveryReport = { segments: numbers.length, entries: 0, corruptRegions: 0, truncatedTailBytes: 0 };
    for (const [i, n] of numbers.entries()) {
      const file = path.join(dir, segmentName(n));
      const scan = scanEntries(fs.readFileSync(file));
      recovery.entries += scan.entries.length;
      recovery.corruptRegions += scan.corruptRegions.length;
      if (i === numbers.length - 1 && scan.tornTailBytes > 0) {
        fs.truncateSync(file, scan.goodEnd);
        recovery.truncatedTailBytes = scan.tornTailBytes;
      }
    }
    const segmentNo = numbers.length ? numbers[numbers.length - 1] : 1;
    const file = path.join(dir, segmentName(segmentNo));
    const fd = fs.openSync(file, 'a');
    if (!numbers.length) fsyncDir(dir);
    return new SegmentLog(dir, opts.segmentBytes ?? 16 << 20, fd, segmentNo, fs.fstatSync(fd).size, recovery);
  }

  static segmentNumbers(dir: string): number[] {
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir)
      .map((f) => SEGMENT_RE.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  /** The file of segment `n` in `dir`. */
  static segmentPath(dir: string, n: number): string {
    return path.join(dir, segmentName(n));
  }

  /** Entries acknowledged as durable (written and fsynced), including those found on open. */
  get durableCount(): number {
    return this.durable;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  append(body: Uint8Array): void {
    if (this.closed) throw new Error('store is closed');
    this.pending.push(encodeEntry(body));
  }

  /** Writes and fsyncs everything appended so far; returns the new durable count. */
  flush(): number {
    if (this.closed) throw new Error('store is closed');
    if (!this.pending.length) return this.durable;
    const batch = this.pending;
    this.pending = [];
    let start = 0;
    while (start < batch.length) {
      let end = start;
      let bytes = 0;
      // Fill the current segment, but always put at least one entry in it.
      while (end < batch.length && (end === start || this.segmentSize + bytes + batch[end].length <= this.segmentBytes)) {
        bytes += batch[end].length;
        end++;
      }
      const chunk = Buffer.concat(batch.slice(start, end), bytes);
      try {
        writeAllDurably(this.fd, chunk, SegmentLog.segmentPath(this.dir, this.segmentNo), this.segmentSize);
      } catch (err) {
        // Disk full or an I/O error: the file is back at its acknowledged size and the entries not
        // written stay pending, so a later flush (once there is room) stores them.
        this.pending = batch.slice(start).concat(this.pending);
        throw err;
      }
      this.segmentSize += bytes;
      this.durable += end - start;
      start = end;
      if (start < batch.length || this.segmentSize >= this.segmentBytes) this.rotate();
    }
    return this.durable;
  }

  private rotate(): void {
    fs.closeSync(this.fd);
    this.segmentNo++;
    this.fd = fs.openSync(path.join(this.dir, segmentName(this.segmentNo)), 'a');
    this.segmentSize = 0;
    fsyncDir(this.dir);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    fs.closeSync(this.fd);
    this.closed = true;
  }

  /** Every good entry on disk, oldest first (reads the files, so it sees only flushed entries). */
  static *readAll(dir: string): Generator<Buffer> {
    for (const n of SegmentLog.segmentNumbers(dir)) {
      for (const e of scanEntries(fs.readFileSync(path.join(dir, segmentName(n)))).entries) yield e.body;
    }
  }
}
