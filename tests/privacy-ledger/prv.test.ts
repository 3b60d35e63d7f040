import { describe, expect, it } from 'vitest';
import { prvAccountant } from '../../privacy/prv/index.ts';
import { rdpAccountant } from '../../privacy/rdp.ts';
import { appendEntry, verifyLedger, type LedgerEntry } from '../../privacy/ledger/index.ts';
import { createBudget } from '../../privacy/budget.ts';
import { DELTA, keyPair } from './helpers.ts';

// PRV evaluations cost ~0.1-1 s each here, so this file keeps to a two-entry, one-mechanism ledger.
describe('the ledger and budget with the PRV accountant', () => {
  const { privateKey, publicKey } = keyPair();
  const entries: LedgerEntry[] = [];
  const spend = { noiseMultiplier: 1.1, sampleRate: 0.01, steps: 50, maxGradNorm: 1, delta: DELTA };
  for (let i = 0; i < 2; i++) {
    entries.push(appendEntry(entries, { userId: 'u', deviceId: 'd', time: '2025-01-01T00:00:00.000Z', modelVersion: 'm', round: i, spend }, { privateKey, accountant: prvAccountant }));
  }

  it('records PRV epsilons and verifies with PRV; RDP is looser, so checking PRV claims with RDP is a named mismatch', () => {
    expect(entries[1].spend.accountant).toBe('prv');
    expect(entries[1].epsilonAfter).toBe(prvAccountant.epsilon([{ noiseMultiplier: 1.1, sampleRate: 0.01, steps: 100 }], DELTA).epsilon);
    const v = verifyLedger(entries, { publicKey, accountant: prvAccountant });
    expect(v.faults).toEqual([]);
    expect(v.epsilon).toBe(entries[1].epsilonAfter);
    const r = verifyLedger(entries, { publicKey, accountant: rdpAccountant });
    expect(r.faults.map((f) => f.kind)).toEqual(['accountant-mismatch', 'accountant-mismatch']);
    expect(r.epsilon).toBeGreaterThan(v.epsilon);
  });

  it('a PRV budget refuses what its accountant says overruns the cap', () => {
    const b = createBudget({ epsilonMax: entries[1].epsilonAfter, delta: DELTA, accountant: prvAccountant });
    const history = [{ noiseMultiplier: 1.1, sampleRate: 0.01, steps: 100 }];
    const d = b.canSpend(history, { noiseMultiplier: 1.1, sampleRate: 0.01, steps: 50 });
    expect(d.ok).toBe(false);
    expect(d.remaining).toBe(0);
  });
});
