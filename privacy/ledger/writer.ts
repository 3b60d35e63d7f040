/**
 * The durable edge of the ledger: appends one entry per spend and returns only after the bytes are
 * on stable storage, so a caller that releases a noisy update after `await recordSpend(...)` can
 * never have released something the ledger lacks (design.md: "written durably *before* the noisy
 * update leaves the training loop, so a crash can only over-count").
 */
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Accountant, MechanismStep } from '../types.ts';
import { canonicalize } from './canonical.ts';
import { appendEntry, historyFromEntries } from './chain.ts';
import { toPrivateKey, type KeyInput } from './crypto.ts';
import type { LedgerEntry } from './entry.ts';
import { parseLedgerText, type TornTail } from './parse.ts';
import { verifyParsedLedger, type LedgerFault } from './verify.ts';

export interface LedgerWriterOptions {
  privateKey: KeyInput;
  userId: string;
  deviceId: string;
  /** Computes each entry's epsilonAfter; an existing file must have been written with the same one. */
  accountant: Accountant;
  /** The budget's delta; an existing file must use the same. */
  delta: number;
  /** If set, a spend that would take epsilon above it is refused and nothing is written. */
  epsilonMax?: number;
  /** Clock for entry times (tests pin it). */
  now?: () => Date;
}

/** What the training loop knows about the run it is about to release. */
export interface SpendRecord {
  noiseMultiplier: number;
  sampleRate: number;
  steps: number;
  maxGradNorm: number;
  round: number;
  modelVersion: string;
}

export class LedgerCorruptError extends Error {
  override name = 'LedgerCorruptError';
  constructor(readonly path: string, readonly faults: readonly LedgerFault[]) {
    super(`ledger ${path} does not verify, refusing to append: ${faults.map((f) => `line ${f.line ?? f.index + 1}: ${f.kind}: ${f.detail}`).join('; ')}`);
  }
}

export class BudgetExceededError extends Error {
  override name = 'BudgetExceededError';
  constructor(readonly epsilonAfter: number, readonly epsilonMax: number) {
    super(`spend refused: epsilon would reach ${epsilonAfter}, over the budget of ${epsilonMax}`);
  }
}

export class LedgerWriter {
  #fh: FileHandle | null;
  #entries: LedgerEntry[];
  #queue: Promise<unknown> = Promise.resolve();
  #failed: Error | null = null;

  private constructor(
    readonly path: string,
    fh: FileHandle,
    entries: LedgerEntry[],
    /** The torn tail that open() cut off, if the last run crashed mid-write. */
    readonly recoveredTornTail: TornTail | null,
    private readonly options: LedgerWriterOptions,
  ) {
    this.#fh = fh;
    this.#entries = entries;
  }

  /**
   * Opens (or creates) the ledger at `path`, verifies every existing entry with this writer's key,
   * accountant and delta, and truncates a torn tail. A ledger with any fault is refused: appending
   * would chain new spends onto data nobody can vouch for.
   */
  static async open(path: string, options: LedgerWriterOptions): Promise<LedgerWriter> {
    if (!(options.delta > 0 && options.delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${options.delta}`);
    if (options.epsilonMax !== undefined && !(options.epsilonMax > 0)) throw new RangeError(`epsilonMax must be > 0, got ${options.epsilonMax}`);
    const privateKey = toPrivateKey(options.privateKey);
    const fh = await open(path, 'a+');
    try {
      const { size } = await fh.stat();
      const bytes = Buffer.alloc(size);
      for (let got = 0; got < size; ) {
        const { bytesRead } = await fh.read(bytes, got, size - got, got);
        if (bytesRead === 0) throw new Error(`ledger ${path} shrank while being read`);
        got += bytesRead;
      }
      const parsed = parseLedgerText(bytes);
      const verdict = verifyParsedLedger(parsed, { publicKey: privateKey, accountant: options.accountant, delta: options.delta });
      if (!verdict.ok) throw new LedgerCorruptError(path, verdict.faults);
      const entries = parsed.lines.flatMap((l) => (l.check.ok ? [l.check.entry] : []));
      const other = entries.find((e) => e.userId !== options.userId);
      if (other) throw new Error(`ledger ${path} belongs to user ${other.userId}, not ${options.userId}`);
      const torn = verdict.tornTail ?? null;
      if (torn) {
        await fh.truncate(torn.offset);
        await fh.sync();
      }
      // A file's name lives in its directory; without syncing the directory a crash can lose a new
      // file even though its data was fsynced (fsync(2), "Notes"). Done on every open, since a
      // previous run may have crashed between creating the file and syncing its directory.
      await syncDirectory(dirname(path));
      return new LedgerWriter(path, fh, entries, torn, { ...options, privateKey });
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  get entries(): readonly LedgerEntry[] {
    return this.#entries;
  }

  /** Cumulative epsilon as the last entry claims it (0 for an empty ledger). */
  get epsilon(): number {
    return this.#entries.at(-1)?.epsilonAfter ?? 0;
  }

  get history(): MechanismStep[] {
    return historyFromEntries(this.#entries);
  }

  /**
   * Appends the entry for `spend`, fsyncs, and only then resolves with it. Release the noisy result
   * after this resolves, never before, and never if it rejects. Calls are serialised.
   */
  recordSpend(spend: SpendRecord): Promise<LedgerEntry> {
    const run = this.#queue.then(() => this.#append(spend));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #append(spend: SpendRecord): Promise<LedgerEntry> {
    if (this.#failed) throw new Error(`ledger ${this.path} is unusable after an earlier write failure (${this.#failed.message}); reopen it to re-verify`);
    const fh = this.#fh;
    if (!fh) throw new Error(`ledger ${this.path} is closed`);
    const o = this.options;
    const entry = appendEntry(
      this.#entries,
      {
        userId: o.userId,
        deviceId: o.deviceId,
        time: (o.now?.() ?? new Date()).toISOString(),
        modelVersion: spend.modelVersion,
        round: spend.round,
        spend: { noiseMultiplier: spend.noiseMultiplier, sampleRate: spend.sampleRate, steps: spend.steps, maxGradNorm: spend.maxGradNorm, delta: o.delta },
      },
      { privateKey: o.privateKey, accountant: o.accountant },
    );
    if (o.epsilonMax !== undefined && entry.epsilonAfter > o.epsilonMax) throw new BudgetExceededError(entry.epsilonAfter, o.epsilonMax);
    const bytes = Buffer.from(canonicalize(entry) + '\n', 'utf8');
    try {
      for (let done = 0; done < bytes.length; ) done += (await fh.write(bytes, done, bytes.length - done)).bytesWritten;
      await fh.sync();
    } catch (err) {
      // After a failed write or fsync the file's state is unknown, and a retried fsync can report
      // success without the data being durable (Rebello et al., "Can Applications Recover from
      // fsync Failures?", USENIX ATC 2020). So poison the writer; reopening re-verifies the file
      // and cuts a partial last line (disk full mid-write). fs errors on a handle name no file.
      const e = err as NodeJS.ErrnoException;
      const named = Object.assign(new Error(`ledger ${this.path}: write failed (${e?.message ?? String(err)}); the spend was not recorded`, { cause: err }), { code: e?.code });
      this.#failed = named;
      throw named;
    }
    this.#entries.push(entry);
    return entry;
  }

  async close(): Promise<void> {
    await this.#queue;
    const fh = this.#fh;
    this.#fh = null;
    await fh?.close();
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
