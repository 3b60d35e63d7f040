import { crc32 } from 'node:zlib';

/**
 * On-disk framing of one log entry: magic u16 LE | body length u32 LE | CRC-32 of body u32 LE | body.
 * The magic lets a reader resynchronise after a damaged entry in the middle of a segment; the CRC
 * tells a torn or bit-rotted entry from a good one. Pure functions: the file handling is in segment-log.ts.
 */
export const ENTRY_MAGIC = 0xfe57;
export const ENTRY_HEADER_BYTES = 10;
/** A single entry larger than this is refused on write and treated as corruption on read. */
export const MAX_ENTRY_BODY = 1 << 20;

export function encodeEntry(body: Uint8Array): Buffer {
  if (body.length > MAX_ENTRY_BODY) {
    throw new RangeError(`store entry body is ${body.length} bytes, more than the ${MAX_ENTRY_BODY}-byte limit`);
  }
  const out = Buffer.allocUnsafe(ENTRY_HEADER_BYTES + body.length);
  out.writeUInt16LE(ENTRY_MAGIC, 0);
  out.writeUInt32LE(body.length, 2);
  out.writeUInt32LE(crc32(body), 6);
  out.set(body, ENTRY_HEADER_BYTES);
  return out;
}

export interface ScannedEntry {
  /** Byte offset of the entry's header in the scanned buffer. */
  offset: number;
  body: Buffer;
}

export interface ScanResult {
  entries: ScannedEntry[];
  /** Offset just past the last good entry: where a writer may append. */
  goodEnd: number;
  /** Damaged regions skipped in the middle (a good entry follows each). */
  corruptRegions: Array<{ offset: number; length: number }>;
  /** Bytes after the last good entry that form no complete entry: a torn write. */
  tornTailBytes: number;
}

function entryAt(buf: Buffer, off: number): Buffer | null {
  if (off + ENTRY_HEADER_BYTES > buf.length) return null;
  if (buf.readUInt16LE(off) !== ENTRY_MAGIC) return null;
  const len = buf.readUInt32LE(off + 2);
  if (len > MAX_ENTRY_BODY || off + ENTRY_HEADER_BYTES + len > buf.length) return null;
  const body = buf.subarray(off + ENTRY_HEADER_BYTES, off + ENTRY_HEADER_BYTES + len);
  return crc32(body) === buf.readUInt32LE(off + 6) ? body : null;
}

/**
 * Reads every good entry of a segment. A bad entry followed somewhere by a good one is corruption
 * (counted, skipped); bad bytes with no good entry after them are a torn tail (the write that
 * was in flight when the process died, never acknowledged).
 */
export function scanEntries(buf: Buffer): ScanResult {
  const entries: ScannedEntry[] = [];
  const corruptRegions: Array<{ offset: number; length: number }> = [];
  let off = 0;
  let goodEnd = 0;
  while (off < buf.length) {
    const body = entryAt(buf, off);
    if (body) {
      entries.push({ offset: off, body });
      off += ENTRY_HEADER_BYTES + body.length;
      goodEnd = off;
      continue;
    }
    // Look for the next position where a complete, valid entry starts.
    let next = -1;
    for (let p = buf.indexOf(0x57, off + 1); p !== -1; p = buf.indexOf(0x57, p + 1)) {
      if (buf[p + 1] === 0xfe && entryAt(buf, p)) {
        next = p;
        break;
      }
    }
    if (next === -1) break;
    corruptRegions.push({ offset: off, length: next - off });
    off = next;
  }
  return { entries, goodEnd, corruptRegions, tornTailBytes: buf.length - goodEnd };
}
