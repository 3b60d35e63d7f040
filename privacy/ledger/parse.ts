/**
 * Reading a ledger file: JSON lines, one entry per '\n'-terminated line.
 *
 * The writer emits `canonical JSON + '\n'` in one write and acknowledges it only after fsync, so the
 * only damage a crash can leave is an unterminated last line (or trailing NULs from blocks the file
 * system allocated but never wrote). That tail was never acknowledged, hence never released: it is
 * reported as a torn tail and ignored. Anything wrong in a terminated line is corruption and is
 * reported as a fault, never skipped.
 */
import { checkEntryShape, type EntryCheck } from './entry.ts';

export interface ParsedLine {
  /** 1-based line number in the file. */
  line: number;
  check: EntryCheck;
}

export interface TornTail {
  /** 1-based line number of the unterminated line. */
  line: number;
  /** Byte offset where it starts: the length the file should be truncated to. */
  offset: number;
  bytes: number;
}

export interface ParsedLedger {
  lines: ParsedLine[];
  tornTail: TornTail | null;
  /** Bytes up to and including the last '\n'. */
  validBytes: number;
}

const NEWLINE = 0x0a;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseLedgerText(input: string | Uint8Array): ParsedLedger {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const validBytes = bytes.lastIndexOf(NEWLINE) + 1;
  const lines: ParsedLine[] = [];
  let start = 0;
  let lineNo = 0;
  while (start < validBytes) {
    const end = bytes.indexOf(NEWLINE, start);
    lineNo++;
    lines.push({ line: lineNo, check: parseLine(bytes.subarray(start, end)) });
    start = end + 1;
  }
  const tornTail = validBytes < bytes.length ? { line: lineNo + 1, offset: validBytes, bytes: bytes.length - validBytes } : null;
  return { lines, tornTail, validBytes };
}

function parseLine(raw: Uint8Array): EntryCheck {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    return { ok: false, kind: 'malformed', detail: 'not valid UTF-8' };
  }
  if (text.trim() === '') return { ok: false, kind: 'malformed', detail: 'empty line' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, kind: 'malformed', detail: `not JSON (${(err as Error).message})` };
  }
  return checkEntryShape(value);
}
