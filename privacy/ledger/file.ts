/** Reading a ledger file from disk (the read-only edge; LedgerWriter is the write edge). */
import { readFile } from 'node:fs/promises';
import { parseLedgerText, type ParsedLedger } from './parse.ts';
import { verifyLedgerText, type LedgerVerdict, type VerifyLedgerOptions } from './verify.ts';

export async function readLedgerFile(path: string): Promise<ParsedLedger> {
  return parseLedgerText(await readFile(path));
}

export async function verifyLedgerFile(path: string, options: VerifyLedgerOptions): Promise<LedgerVerdict> {
  return verifyLedgerText(await readFile(path), options);
}
