import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Accountant } from '../../privacy/types.ts';
import { rdpAccountant } from '../../privacy/rdp.ts';
import { appendEntry, type LedgerEntry } from '../../privacy/ledger/index.ts';
import { seededRng } from '../../models/index.ts';

/** The real accountant (privacy/rdp.ts, Opacus's RDP). */
export const accountant: Accountant = rdpAccountant;

/** The same numbers under the other name, for accountant-mismatch tests. */
export const prvNamed: Accountant = { name: 'prv', epsilon: (h, d) => ({ ...rdpAccountant.epsilon(h, d), accountant: 'prv' }) };
export const DELTA = 1e-5;

export function keyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ed25519');
}

/** mulberry32 (models' seededRng): reproducible streams. */
export const rng = seededRng;

export function spendOf(i: number) {
  return { noiseMultiplier: i % 3 === 0 ? 1.1 : 1.3, sampleRate: 0.01, steps: 50 + i, maxGradNorm: 1.0, delta: DELTA };
}

/** A valid ledger of n entries signed with privateKey. */
export function buildLedger(n: number, privateKey: KeyObject, acct: Accountant = accountant): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  for (let i = 0; i < n; i++) {
    entries.push(
      appendEntry(
        entries,
        { userId: 'user-1', deviceId: 'watch-7', time: new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString(), modelVersion: 'm1', round: i, spend: spendOf(i) },
        { privateKey, accountant: acct },
      ),
    );
  }
  return entries;
}

export function toJsonl(entries: readonly unknown[]): string {
  return entries.map((e) => JSON.stringify(e) + '\n').join('');
}
