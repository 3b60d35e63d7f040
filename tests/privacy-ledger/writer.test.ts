import { mkdtempSync, readFileSync, writeFileSync, appendFileSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BudgetExceededError,
  LedgerCorruptError,
  LedgerWriter,
  hashEntry,
  verifyLedgerFile,
  type LedgerWriterOptions,
} from '../../privacy/ledger/index.ts';
import { DELTA, accountant, keyPair, rng } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'fedwear-ledger-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const { privateKey, publicKey } = keyPair();
let fileNo = 0;
const fresh = (): string => join(dir, `ledger-${fileNo++}.jsonl`);
const base: LedgerWriterOptions = { privateKey, userId: 'user-1', deviceId: 'watch-7', accountant, delta: DELTA, now: () => new Date('2025-03-01T12:00:00.000Z') };
const spend = (round: number) => ({ noiseMultiplier: 1.0, sampleRate: 0.02, steps: 100, maxGradNorm: 1.0, round, modelVersion: 'm3' });

describe('LedgerWriter', () => {
  it('creates the file, and each recordSpend returns an entry that is already on disk and verifies', async () => {
    const path = fresh();
    const w = await LedgerWriter.open(path, base);
    for (let i = 0; i < 3; i++) {
      const e = await w.recordSpend(spend(i));
      const lines = readFileSync(path, 'utf8').split('\n');
      expect(JSON.parse(lines[i])).toEqual(e);
      expect(e).toMatchObject({ index: i, round: i, userId: 'user-1', deviceId: 'watch-7', time: '2025-03-01T12:00:00.000Z', modelVersion: 'm3' });
      expect(e.spend).toEqual({ noiseMultiplier: 1.0, sampleRate: 0.02, steps: 100, maxGradNorm: 1.0, delta: DELTA, accountant: 'rdp' });
    }
    expect(w.epsilon).toBe(accountant.epsilon([{ noiseMultiplier: 1, sampleRate: 0.02, steps: 300 }], DELTA).epsilon);
    expect(w.history).toEqual([{ noiseMultiplier: 1, sampleRate: 0.02, steps: 300 }]);
    await w.close();
    const v = await verifyLedgerFile(path, { publicKey, accountant });
    expect(v).toMatchObject({ ok: true, entries: 3, epsilon: w.epsilon });
  });

  it('reopening continues the chain', async () => {
    const path = fresh();
    const a = await LedgerWriter.open(path, base);
    const first = await a.recordSpend(spend(0));
    await a.close();
    const b = await LedgerWriter.open(path, base);
    expect(b.entries).toEqual([first]);
    const second = await b.recordSpend(spend(1));
    expect(second.index).toBe(1);
    expect(second.prevHash).toBe(hashEntry(first));
    await b.close();
    expect((await verifyLedgerFile(path, { publicKey, accountant })).ok).toBe(true);
  });

  it('serialises concurrent recordSpend calls into one chain', async () => {
    const path = fresh();
    const w = await LedgerWriter.open(path, base);
    const entries = await Promise.all([0, 1, 2, 3].map((r) => w.recordSpend(spend(r))));
    expect(entries.map((e) => e.index)).toEqual([0, 1, 2, 3]);
    await w.close();
    expect((await verifyLedgerFile(path, { publicKey, accountant })).ok).toBe(true);
  });

  it('truncates a torn tail on open (seeded cut points) and appends after it', async () => {
    const r = rng(5);
    for (let k = 0; k < 5; k++) {
      const path = fresh();
      const w = await LedgerWriter.open(path, base);
      await w.recordSpend(spend(0));
      await w.recordSpend(spend(1));
      await w.close();
      const good = readFileSync(path);
      // Simulate a crash mid-write of a third entry: a prefix of a real line, no newline.
      const doomed = await LedgerWriter.open(join(dir, `scratch-${k}.jsonl`), base);
      for (let i = 0; i < 3; i++) await doomed.recordSpend(spend(i));
      await doomed.close();
      const third = readFileSync(join(dir, `scratch-${k}.jsonl`), 'utf8').split('\n')[2];
      const cut = 1 + Math.floor(r() * third.length);
      appendFileSync(path, third.slice(0, cut));

      const again = await LedgerWriter.open(path, base);
      expect(again.recoveredTornTail).toEqual({ line: 3, offset: good.length, bytes: cut });
      expect(statSync(path).size).toBe(good.length);
      expect(again.entries).toHaveLength(2);
      await again.recordSpend(spend(2));
      await again.close();
      expect(await verifyLedgerFile(path, { publicKey, accountant })).toMatchObject({ ok: true, entries: 3 });
    }
  });

  it('refuses to append to a ledger with a fault in the middle, naming the line', async () => {
    const path = fresh();
    const w = await LedgerWriter.open(path, base);
    for (let i = 0; i < 3; i++) await w.recordSpend(spend(i));
    await w.close();
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[1] = lines[1].replace('"round":1', '"round":7');
    writeFileSync(path, lines.join('\n'));
    const err = await LedgerWriter.open(path, base).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerCorruptError);
    expect((err as LedgerCorruptError).faults.map((f) => `${f.line}:${f.kind}`)).toEqual(['2:bad-signature', '3:broken-chain']);
    expect((err as Error).message).toMatch(/line 2: bad-signature/);
  });

  it('refuses a ledger written with another key, delta, or for another user', async () => {
    const path = fresh();
    const w = await LedgerWriter.open(path, base);
    await w.recordSpend(spend(0));
    await w.close();
    await expect(LedgerWriter.open(path, { ...base, privateKey: keyPair().privateKey })).rejects.toThrow(/key-mismatch/);
    await expect(LedgerWriter.open(path, { ...base, delta: 1e-6 })).rejects.toThrow(/delta-mismatch/);
    await expect(LedgerWriter.open(path, { ...base, userId: 'user-2' })).rejects.toThrow(/belongs to user user-1, not user-2/);
  });

  it('refuses a spend over epsilonMax and writes nothing', async () => {
    const path = fresh();
    const first = accountant.epsilon([{ noiseMultiplier: 1, sampleRate: 0.02, steps: 100 }], DELTA).epsilon;
    const w = await LedgerWriter.open(path, { ...base, epsilonMax: first * 1.2 });
    await w.recordSpend(spend(0));
    const size = statSync(path).size;
    const err = await w.recordSpend(spend(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BudgetExceededError);
    expect((err as BudgetExceededError).epsilonAfter).toBeGreaterThan(first * 1.2);
    expect(statSync(path).size).toBe(size);
    expect(w.entries).toHaveLength(1);
    await w.close();
  });

  it('rejects bad spends and options by name', async () => {
    const path = fresh();
    const w = await LedgerWriter.open(path, base);
    await expect(w.recordSpend({ ...spend(0), sampleRate: 0 })).rejects.toThrow(/spend\.sampleRate/);
    await expect(w.recordSpend({ ...spend(0), modelVersion: '' })).rejects.toThrow(/modelVersion/);
    expect(statSync(path).size).toBe(0);
    await w.close();
    await expect(w.recordSpend(spend(0))).rejects.toThrow(/closed/);
    await expect(LedgerWriter.open(fresh(), { ...base, delta: 0 })).rejects.toThrow(/delta must be in/);
    await expect(LedgerWriter.open(fresh(), { ...base, privateKey: publicKey })).rejects.toThrow(/Ed25519 private key/);
  });
});
