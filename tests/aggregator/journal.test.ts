/** The journal (group-committed JSON lines) and the round store built on it. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Journal, JournalCorruptError, RoundStore, type EngineState } from '../../broker/index.ts';
import { tempDir } from '../broker/harness.ts';
import { deltaFor } from './helpers.ts';

describe('Journal', () => {
  it('makes a burst durable with every record in order, and reads it back with typed arrays intact', async () => {
    const file = path.join(tempDir('journal'), 'j.jsonl');
    const { journal } = Journal.open(file);
    const d = deltaFor(3);
    await Promise.all(Array.from({ length: 50 }, (_, i) => journal.append({ i, d: i === 7 ? d : undefined })));
    journal.appendLazy({ note: 'lazy' });
    await journal.flushed();
    await journal.close();
    const { records, tornBytes } = Journal.open<{ i?: number; d?: Float32Array; note?: string }>(file);
    expect(tornBytes).toBe(0);
    expect(records.map((r) => r.i ?? r.note)).toEqual([...Array.from({ length: 50 }, (_, i) => i), 'lazy']);
    expect(records[7].d).toBeInstanceOf(Float32Array);
    expect(Buffer.from(records[7].d!.buffer).equals(Buffer.from(d.buffer))).toBe(true);
  });

  it('cuts a torn last line (a write that never completed) and appends after it', async () => {
    const file = path.join(tempDir('journal-torn'), 'j.jsonl');
    fs.writeFileSync(file, '{"a":1}\n{"a":2}\n{"a":3,"par');
    const { journal, records, tornBytes } = Journal.open<{ a: number }>(file);
    expect(records.map((r) => r.a)).toEqual([1, 2]);
    expect(tornBytes).toBe('{"a":3,"par'.length);
    await journal.append({ a: 4 });
    await journal.close();
    expect(fs.readFileSync(file, 'utf8')).toBe('{"a":1}\n{"a":2}\n{"a":4}\n');
  });

  it('refuses a file with a bad line before the end, naming the line', () => {
    const file = path.join(tempDir('journal-bad'), 'j.jsonl');
    fs.writeFileSync(file, '{"a":1}\nnot json\n{"a":3}\n');
    expect(() => Journal.open(file)).toThrow(JournalCorruptError);
    expect(() => Journal.open(file)).toThrow(/line 2 is not a journal record/);
  });
});

describe('RoundStore', () => {
  const state = (round: number, m: Float64Array): EngineState => ({
    model: { version: `global-${round - 1}`, round: round - 1, params: deltaFor(round), created: '2026-01-01T00:00:00.000Z' },
    strategyState: { step: round, m, v: m },
    round: { id: round, modelVersion: `global-${round - 1}`, modelSha256: 'a'.repeat(64), openedAtMs: 1, deadlineMs: 2 },
    versions: [[round, `global-${round - 1}`]],
    seen: { entries: [{ clientId: 'gw-0', roundId: round - 1, digest: 'b'.repeat(64) }] },
  });

  it('replays the open round only; a closed round\'s journal goes once the next state is committed', async () => {
    const dir = tempDir('round-store');
    const first = RoundStore.open(dir);
    expect(first.state).toBeUndefined();
    first.store.init(state(1, Float64Array.of(0.5, -0.25)));
    const u = { clientId: 'gw-1', updateRound: 1, digest: 'c'.repeat(64), staleness: 0, norm: 0.1, bytes: 100, delta: deltaFor(9) };
    await first.store.commitAccepted(1, u);
    first.store.noteRejected(1, 'duplicate');
    await first.store.flushed();

    // A "crash": nothing closed, reopen.
    const again = RoundStore.open(dir);
    expect(again.state?.round.id).toBe(1);
    expect(again.records).toEqual([{ t: 'accept', round: 1, ...u }, { t: 'reject', round: 1, reason: 'duplicate' }]);

    const next = state(2, Float64Array.of(Math.PI, Number.MIN_VALUE));
    await again.store.commitRound(next);
    await again.store.close();
    expect(fs.readdirSync(path.join(dir, 'journal'))).toEqual(['round-2.jsonl']);
    const after = RoundStore.open(dir);
    expect(after.records).toEqual([]);
    expect(after.state?.round.id).toBe(2);
    const s = after.state!.strategyState as { m: Float64Array };
    expect(Array.from(s.m)).toEqual([Math.PI, Number.MIN_VALUE]);
    expect(after.state!.model.params).toEqual(deltaFor(2));
    await after.store.close();
  });
});
