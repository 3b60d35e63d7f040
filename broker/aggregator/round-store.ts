/**
 * The aggregator's durable round state, in `dataDir`:
 *
 *   state.json               the engine state: global model, strategy state, open round, staleness
 *                            window, seen set of closed rounds. Replaced atomically when a round closes:
 *                            that write is the round's commit point.
 *   journal/round-<id>.jsonl the open round's accepted updates (client, round, digest, decoded delta),
 *                            one fsynced line each before the update is acknowledged, plus rejection
 *                            counts (not waited for).
 *
 * On restart the open round is state.json's round plus its journal replayed: every accepted update
 * counted once, and the seen set rebuilt from the same lines, so a QoS 1 redelivery of an update
 * accepted before the crash is refused as a duplicate.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { GlobalModel } from './global-model.ts';
import { Journal, writeFileDurably } from './journal.ts';
import { fromJsonText, toJsonText } from './codec.ts';
import type { AcceptedUpdate, EngineState } from './round-engine.ts';

export type JournalRecord =
  | ({ t: 'accept'; round: number } & AcceptedUpdate)
  | { t: 'reject'; round: number; reason: string };

const STATE_FILE = 'state.json';
const JOURNAL_DIR = 'journal';
const journalName = (round: number): string => `round-${round}.jsonl`;

interface StateFile {
  v: 1;
  state: EngineState;
}

export interface OpenedRoundStore {
  store: RoundStore;
  /** Undefined on a first start (no state.json yet). */
  state: EngineState | undefined;
  /** The open round's journal, in order. */
  records: JournalRecord[];
  tornBytes: number;
}

export class RoundStore {
  readonly dir: string;
  #journal: Journal | undefined;
  #round: number | undefined;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static open(dir: string): OpenedRoundStore {
    fs.mkdirSync(path.join(dir, JOURNAL_DIR), { recursive: true });
    const store = new RoundStore(dir);
    const file = path.join(dir, STATE_FILE);
    if (!fs.existsSync(file)) return { store, state: undefined, records: [], tornBytes: 0 };
    const parsed = fromJsonText(fs.readFileSync(file, 'utf8')) as StateFile;
    if (parsed?.v !== 1 || !parsed.state?.round) throw new Error(`${file}: not an aggregator state file (v 1)`);
    const state = reviveState(parsed.state);
    const { records, tornBytes } = store.#openJournal(state.round.id);
    return { store, state, records: records.filter((r) => r.round === state.round.id), tornBytes };
  }

  /** First start: the initial state becomes durable before round 1 is announced. */
  init(state: EngineState): void {
    writeFileDurably(path.join(this.dir, STATE_FILE), toJsonText({ v: 1, state } satisfies StateFile));
    this.#openJournal(state.round.id);
  }

  /** Resolves when the update is on disk: only then may it be acknowledged. */
  commitAccepted(round: number, u: AcceptedUpdate): Promise<void> {
    return this.#j().append({ t: 'accept', round, ...u } satisfies JournalRecord);
  }

  noteRejected(round: number, reason: string): void {
    this.#j().appendLazy({ t: 'reject', round, reason } satisfies JournalRecord);
  }

  /** Resolves when every accepted update so far is durable. */
  flushed(): Promise<void> {
    return this.#j().flushed();
  }

  /**
   * Closes the open round: the next state is written atomically (the commit point), then the next
   * round's journal is opened and the closed one removed.
   */
  async commitRound(next: EngineState): Promise<void> {
    await this.#j().flushed();
    writeFileDurably(path.join(this.dir, STATE_FILE), toJsonText({ v: 1, state: next } satisfies StateFile));
    const old = this.#journal!;
    this.#openJournal(next.round.id);
    await old.close();
  }

  /** A state change inside the open round (a moved deadline): durable, journal untouched. */
  saveState(state: EngineState): void {
    writeFileDurably(path.join(this.dir, STATE_FILE), toJsonText({ v: 1, state } satisfies StateFile));
  }

  async close(): Promise<void> {
    await this.#journal?.close();
    this.#journal = undefined;
  }

  #j(): Journal {
    if (!this.#journal) throw new Error('round store is closed');
    return this.#journal;
  }

  #openJournal(round: number): { records: JournalRecord[]; tornBytes: number } {
    const dir = path.join(this.dir, JOURNAL_DIR);
    const { journal, records, tornBytes } = Journal.open<JournalRecord>(path.join(dir, journalName(round)));
    this.#journal = journal;
    this.#round = round;
    // Journals of closed rounds: their updates are in state.json's model now.
    for (const name of fs.readdirSync(dir)) {
      const m = /^round-(\d+)\.jsonl$/.exec(name);
      if (m && Number(m[1]) < round) fs.rmSync(path.join(dir, name), { force: true });
    }
    return { records, tornBytes };
  }

  get round(): number | undefined {
    return this.#round;
  }
}

function reviveState(s: EngineState): EngineState {
  const model = s.model as GlobalModel;
  if (!(model.params instanceof Float32Array)) throw new Error('aggregator state: model.params is not float32 data');
  return s;
}
