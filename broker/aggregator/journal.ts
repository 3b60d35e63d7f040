/**
 * An append-only JSON-lines file with group commit: records queued while a write + fsync is in flight
 * go out together in the next one, so a burst of updates costs one fsync, not one each, and every
 * `append` resolves only once its line is durable. A crash can leave one unterminated last line (a
 * write that never completed, so never acknowledged); `open` cuts it. A bad line before the end is
 * corruption and `open` refuses the file rather than guess.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fromJsonText, toJsonText } from './codec.ts';

export interface JournalOpen<T> {
  journal: Journal;
  records: T[];
  /** Bytes of a torn last line that were cut. */
  tornBytes: number;
}

export class JournalCorruptError extends Error {
  override readonly name = 'JournalCorruptError';
}

interface Pending {
  line: string;
  resolve?: () => void;
  reject?: (err: Error) => void;
}

export class Journal {
  readonly file: string;
  #fd: number;
  #pending: Pending[] = [];
  #flushing: Promise<void> | null = null;
  #failed: Error | null = null;
  #closed = false;
  /** Bytes acknowledged as durable: a failed batch is cut back to this. */
  #size: number;

  private constructor(file: string, fd: number) {
    this.file = file;
    this.#fd = fd;
    this.#size = fs.fstatSync(fd).size;
  }

  /** Opens (creating if needed) and returns the records already in the file. */
  static open<T = unknown>(file: string): JournalOpen<T> {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const existed = fs.existsSync(file);
    const records: T[] = [];
    let tornBytes = 0;
    if (existed) {
      const buf = fs.readFileSync(file);
      const end = buf.lastIndexOf(0x0a) + 1;
      tornBytes = buf.length - end;
      const text = buf.subarray(0, end).toString('utf8');
      const lines = text.split('\n');
      lines.pop();
      lines.forEach((line, i) => {
        try {
          records.push(fromJsonText(line) as T);
        } catch (err) {
          throw new JournalCorruptError(`${file}: line ${i + 1} is not a journal record (${(err as Error).message}); refusing to guess what was accepted`);
        }
      });
      if (tornBytes > 0) {
        fs.truncateSync(file, end);
        const fd = fs.openSync(file, 'r+');
        fs.fsyncSync(fd);
        fs.closeSync(fd);
      }
    }
    const fd = fs.openSync(file, 'a');
    if (!existed) fsyncDir(path.dirname(file));
    return { journal: new Journal(file, fd), records, tornBytes };
  }

  /** Resolves once the record is on disk (written and fsynced). */
  append(record: unknown): Promise<void> {
    this.#check();
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ line: toJsonText(record) + '\n', resolve, reject });
      this.#kick();
    });
  }

  /** Written with the next flush; nobody waits for it (counts, notes). */
  appendLazy(record: unknown): void {
    this.#check();
    this.#pending.push({ line: toJsonText(record) + '\n' });
    this.#kick();
  }

  /** Resolves when everything appended so far is durable. */
  async flushed(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#failed) throw this.#failed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flushed().catch(() => {});
    this.#closed = true;
    fs.closeSync(this.#fd);
  }

  #check(): void {
    if (this.#closed) throw new Error(`journal ${this.file} is closed`);
    // A failed fsync may have lost data the OS said it had; nothing after it can be trusted (same rule as the privacy ledger writer).
    if (this.#failed) throw this.#failed;
  }

  #kick(): void {
    if (this.#flushing) return;
    this.#flushing = this.#drain().finally(() => {
      this.#flushing = null;
      // An append that came between the last batch and this callback found a flush still running.
      if (this.#pending.length > 0 && !this.#failed) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    // Yield once so appends made in the same tick join this write.
    await new Promise<void>((r) => setImmediate(r));
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0);
      try {
        const buf = Buffer.from(batch.map((p) => p.line).join(''), 'utf8');
        await writeAll(this.#fd, buf);
        await new Promise<void>((resolve, reject) => fs.fsync(this.#fd, (err) => (err ? reject(err) : resolve())));
        this.#size += buf.length;
      } catch (err) {
        // Cut the part of the batch that landed (disk full after a short write): none of it was
        // acknowledged, so none of it may be restored as accepted on the next open. Best effort.
        try {
          fs.ftruncateSync(this.#fd, this.#size);
        } catch {
          // the open's torn-line cut still drops an unterminated last line
        }
        this.#failed = new Error(`journal ${this.file}: write failed, nothing after it is durable (${(err as Error).message})`);
        for (const p of [...batch, ...this.#pending.splice(0)]) p.reject?.(this.#failed);
        return;
      }
      for (const p of batch) p.resolve?.();
    }
  }
}

function writeAll(fd: number, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number): void => {
      if (off >= buf.length) return resolve();
      fs.write(fd, buf, off, buf.length - off, null, (err, n) => (err ? reject(err) : step(off + n)));
    };
    step(0);
  });
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes a file atomically and durably: temp file, fsync, rename, fsync the folder. */
export function writeFileDurably(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}
