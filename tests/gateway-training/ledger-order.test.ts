import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fineTuneRound, type FineTuneInput, type SpendLedger } from '../../gateway/training/index.ts';
import { seededRandomForTests, verifyLedgerFile, type LedgerEntry, type LedgerWriter, type SpendRecord } from '../../privacy/index.ts';
import { budget, globalModel, keyPair, makeData, openLedger, roundParams } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'fedwear-train-order-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const data = makeData(400, 1.5, 31);
const seeded = { random: seededRandomForTests(2), allowInsecureRandomness: true };
let n = 0;

async function fresh(epsilonMax?: number): Promise<{ writer: LedgerWriter; path: string; publicKey: ReturnType<typeof keyPair>['publicKey'] }> {
  const { privateKey, publicKey } = keyPair();
  const path = join(dir, `l-${n++}.jsonl`);
  return { writer: await openLedger(path, privateKey, epsilonMax), path, publicKey };
}

function input(ledger: SpendLedger, over: Partial<FineTuneInput> = {}): FineTuneInput {
  return { features: data.X, labels: data.y, globalModel: globalModel(), round: roundParams({ noiseMultiplier: 1, steps: 40 }), budget: budget(20), ledger, ...over };
}

/** A ledger whose recordSpend is held open until the test lets it proceed, logging every event. */
function gatedLedger(writer: LedgerWriter, events: string[], opts: { fail?: Error } = {}) {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  let signalCalled: () => void = () => undefined;
  const called = new Promise<void>((r) => (signalCalled = r));
  const ledger: SpendLedger = {
    get history() {
      return writer.history;
    },
    get entries() {
      return writer.entries;
    },
    async recordSpend(spend: SpendRecord): Promise<LedgerEntry> {
      events.push('recordSpend called');
      signalCalled();
      await gate;
      if (opts.fail) {
        events.push('recordSpend rejected');
        throw opts.fail;
      }
      const entry = await writer.recordSpend(spend);
      events.push('recordSpend resolved (fsynced)');
      return entry;
    },
  };
  return { ledger, release, called };
}

/** Lets every pending callback run (one macrotask turn), so anything that could happen has. */
const drain = () => new Promise<void>((r) => setImmediate(r));

describe('the ledger entry is durable before anything leaves the round', () => {
  it('no step and no result before recordSpend resolves; the entry is on disk when training starts', async () => {
    const { writer, path } = await fresh();
    const events: string[] = [];
    const g = gatedLedger(writer, events);
    const onProgress = (done: number, total: number): void => {
      if (done === 0) {
        // Training starts only now: the entry must already be in the file.
        const lines = readFileSync(path, 'utf8').trim().split('\n');
        events.push(`training starts with ${lines.length} entry on disk`);
      } else if (done === total) events.push('last step');
    };
    const pending = fineTuneRound(input(g.ledger), { ...seeded, onProgress }).then((r) => {
      events.push('result');
      return r;
    });
    await g.called;
    for (let i = 0; i < 5; i++) await drain();
    expect(events).toEqual(['recordSpend called']);
    g.release();
    const result = await pending;
    expect(result.status).toBe('trained');
    expect(events).toEqual(['recordSpend called', 'recordSpend resolved (fsynced)', 'training starts with 1 entry on disk', 'last step', 'result']);
    if (result.status === 'trained') expect(result.ledgerEntry).toEqual(writer.entries[0]);
    await writer.close();
  });

  it('a failing recordSpend means no training and no result', async () => {
    const { writer } = await fresh();
    const events: string[] = [];
    const g = gatedLedger(writer, events, { fail: new Error('disk full') });
    const pending = fineTuneRound(input(g.ledger), { ...seeded, onProgress: (d) => events.push(`step ${d}`) });
    g.release();
    await expect(pending).rejects.toThrow('disk full');
    expect(events).toEqual(['recordSpend called', 'recordSpend rejected']);
    expect(writer.entries.length).toBe(0);
    await writer.close();
  });

  it("the writer's own budget gate refusing the spend also means no result", async () => {
    // The writer's cap is lower than the budget the plan used (misconfiguration): the last gate holds.
    const { writer, path } = await fresh(0.5);
    await expect(fineTuneRound(input(writer), seeded)).rejects.toThrow(/spend refused/);
    expect(statSync(path).size).toBe(0);
    await writer.close();
  });
});

describe('budget decisions and the ledger', () => {
  it('a run that would exceed the budget is skipped with the epsilon it would reach and writes no entry', async () => {
    const { writer, path } = await fresh();
    const b = budget(1);
    const r = await fineTuneRound(input(writer, { budget: b, round: roundParams({ noiseMultiplier: 0.7, steps: 200 }) }), seeded);
    expect(r.status).toBe('skipped');
    if (r.status !== 'skipped') return;
    expect(r.code).toBe('over-budget');
    const wouldReach = b.canSpend([], { steps: 200, sampleRate: 0.05, noiseMultiplier: 0.7 }).epsilonAfter;
    expect(r.epsilonWouldReach).toBe(wouldReach);
    expect(wouldReach).toBeGreaterThan(1);
    expect(r.epsilonBefore).toBe(0);
    expect(writer.entries.length).toBe(0);
    expect(statSync(path).size).toBe(0);
    await writer.close();
  });

  it('too few examples: skipped, nothing written', async () => {
    const { writer, path } = await fresh();
    const small = makeData(20, 1.5, 5);
    const r = await fineTuneRound(input(writer, { features: small.X, labels: small.y }), seeded);
    expect(r).toMatchObject({ status: 'skipped', code: 'too-few-examples' });
    expect(statSync(path).size).toBe(0);
    await writer.close();
  });

  it('over successive calibrated rounds the ledger epsilon equals the budget epsilonSpent and never passes the cap', async () => {
    const { writer, path, publicKey } = await fresh();
    const b = budget(2.5);
    const round = (r: number) => roundParams({ round: r, epsilonPerRound: 1, steps: 40 });
    const results = [];
    for (let r = 1; r <= 4; r++) results.push(await fineTuneRound(input(writer, { budget: b, round: round(r) }), seeded));
    expect(results.map((r) => r.status)).toEqual(['trained', 'trained', 'trained', 'skipped']);
    const eps = results.flatMap((r) => (r.status === 'trained' ? [r.epsilonAfter] : []));
    expect(eps[0]).toBeLessThanOrEqual(1);
    expect(eps[1]).toBeLessThanOrEqual(eps[0] + 1);
    expect(eps[1]).toBeGreaterThan(eps[0] + 1 - 0.011);
    expect(eps[2]).toBeLessThanOrEqual(2.5); // capped by the remaining budget, not epsilonBefore + 1
    expect(eps[2]).toBeGreaterThan(2.5 - 0.011);
    const verdict = await verifyLedgerFile(path, { publicKey, accountant: b.accountant });
    expect(verdict.faults).toEqual([]);
    expect(verdict.entries).toBe(3);
    expect(verdict.epsilon).toBe(b.epsilonSpent(writer.history));
    expect(verdict.epsilon).toBe(eps[2]);
    expect(results[3]).toMatchObject({ status: 'skipped', code: 'budget-exhausted' });
    await writer.close();
  });
});
