/** The privacy ledger: hash-chained, Ed25519-signed JSON lines, one per privacy spend. */
export { canonicalize, CanonicalizationError } from './canonical.ts';
export {
  LEDGER_VERSION,
  GENESIS_HASH,
  LedgerEntrySchema,
  LedgerSpendSchema,
  checkEntryShape,
  type LedgerEntry,
  type LedgerSpend,
  type UnsignedLedgerEntry,
  type EntryCheck,
} from './entry.ts';
export {
  SIGNING_CONTEXT,
  hashEntry,
  signingBytes,
  signEntry,
  verifyEntrySignature,
  keyIdOf,
  generateLedgerKeyPair,
  toPrivateKey,
  toPublicKey,
  type KeyInput,
  type LedgerKeyPair,
} from './crypto.ts';
export { appendEntry, historyOf, historyFromEntries, type EntryDraft, type Signer } from './chain.ts';
export { parseLedgerText, type ParsedLedger, type ParsedLine, type TornTail } from './parse.ts';
export {
  verifyLedger,
  verifyLedgerText,
  verifyParsedLedger,
  type LedgerFault,
  type LedgerFaultKind,
  type LedgerHead,
  type LedgerVerdict,
  type VerifyLedgerOptions,
} from './verify.ts';
export { readLedgerFile, verifyLedgerFile } from './file.ts';
export {
  LedgerWriter,
  LedgerCorruptError,
  BudgetExceededError,
  type LedgerWriterOptions,
  type SpendRecord,
} from './writer.ts';
export {
  writeLedgerKeyPair,
  readPublicKeyFile,
  readPrivateKeyFile,
  PRIVATE_KEY_FILE,
  PUBLIC_KEY_FILE,
  type WrittenKeyPair,
} from './keyfiles.ts';
