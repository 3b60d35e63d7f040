import fs from 'node:fs';

/** A write or fsync that failed (disk full, I/O error), naming the file; `code` is the system's (ENOSPC, EFBIG, EIO). */
export class DiskWriteError extends Error {
  override name = 'DiskWriteError';
  readonly code: string | undefined;
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    const err = cause as NodeJS.ErrnoException;
    super(`${file}: write failed (${err?.message ?? String(cause)}); nothing of this write was kept`, { cause });
    this.code = err?.code;
  }
}

/**
 * Writes all of `bytes` at the end of `fd` and fdatasyncs. On failure (ENOSPC after a short write,
 * a failed fsync) the file is cut back to `sizeBefore`, so the bytes that did land are not read back
 * as a record nobody acknowledged, and a later append does not follow a torn entry; then it throws a
 * DiskWriteError naming `file`. The cut is best effort: if it fails too, the reader's torn-entry scan
 * still skips the partial entry.
 */
export function writeAllDurably(fd: number, bytes: Uint8Array, file: string, sizeBefore: number): void {
  try {
    let done = 0;
    while (done < bytes.length) done += fs.writeSync(fd, bytes, done);
    fs.fdatasyncSync(fd);
  } catch (err) {
    try {
      fs.ftruncateSync(fd, sizeBefore);
    } catch {
      // e.g. EINVAL on a device; the scan on open copes with the torn bytes.
    }
    throw new DiskWriteError(file, err);
  }
}

/** A new or renamed file's directory entry is only durable once the directory itself is synced. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
