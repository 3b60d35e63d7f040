import { describe, expect, it } from 'vitest';
import {
  GENESIS_HASH,
  appendEntry,
  hashEntry,
  historyFromEntries,
  keyIdOf,
  signEntry,
  signingBytes,
  verifyEntrySignature,
  verifyLedger,
  verifyLedgerText,
  type LedgerEntry,
} from '../../privacy/ledger/index.ts';
import { DELTA, accountant, buildLedger, keyPair, prvNamed, toJsonl } from './helpers.ts';

const { privateKey, publicKey } = keyPair();
const other = keyPair();
const opts = { publicKey, accountant };
const N = 6;
const ledger = buildLedger(N, privateKey);

const kinds = (v: { faults: { index: number; kind: string }[] }) => v.faults.map((f) => `${f.index}:${f.kind}`);

/** Re-signs entries from `from` on, re-linking the chain: what a key holder rewriting history would do. */
function relink(entries: LedgerEntry[], from: number): LedgerEntry[] {
  const out = entries.slice();
  for (let i = from; i < out.length; i++) {
    const { signature: _s, ...unsigned } = out[i];
    void _s;
    out[i] = signEntry({ ...unsigned, prevHash: i === 0 ? GENESIS_HASH : hashEntry(out[i - 1]) }, privateKey);
  }
  return out;
}

describe('appending', () => {
  it('chains from genesis with contiguous indexes and the previous entry hash', () => {
    expect(ledger[0].index).toBe(0);
    expect(ledger[0].prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < N; i++) {
      expect(ledger[i].index).toBe(i);
      expect(ledger[i].prevHash).toBe(hashEntry(ledger[i - 1]));
    }
  });

  it('records the cumulative epsilon the accountant gives for the whole history', () => {
    for (let i = 0; i < N; i++) {
      expect(ledger[i].epsilonAfter).toBe(accountant.epsilon(historyFromEntries(ledger.slice(0, i + 1)), DELTA).epsilon);
    }
    expect(ledger[N - 1].epsilonAfter).toBeGreaterThan(ledger[0].epsilonAfter);
  });

  it('merges consecutive identical mechanisms into one history step, as Opacus does', () => {
    const h = historyFromEntries(ledger);
    // sigmas: 1.1, 1.3, 1.3, 1.1, 1.3, 1.3
    expect(h.map((s) => [s.noiseMultiplier, s.steps])).toEqual([[1.1, 50], [1.3, 51 + 52], [1.1, 53], [1.3, 54 + 55]]);
  });

  it('signs deterministically over the context-prefixed canonical bytes, with the key id of the signer', () => {
    expect(ledger[0].keyId).toBe(keyIdOf(publicKey));
    expect(signingBytes(ledger[0]).toString('utf8')).toMatch(/^fedwear\/privacy-ledger\/v1\n\{"deviceId":"watch-7","epsilonAfter":/);
    expect(signingBytes(ledger[0]).toString('utf8')).not.toMatch(/signature/);
    expect(buildLedger(2, privateKey)[1].signature).toBe(ledger[1].signature);
    expect(verifyEntrySignature(ledger[2], publicKey)).toBe(true);
    expect(verifyEntrySignature(ledger[2], other.publicKey)).toBe(false);
  });

  it('refuses an entry that would not be valid, naming the field', () => {
    const draft = { userId: 'user 1', deviceId: 'w', time: '2025-01-01T00:00:00.000Z', modelVersion: 'm', round: 0, spend: { noiseMultiplier: 1, sampleRate: 0.1, steps: 1, maxGradNorm: 1, delta: DELTA } };
    expect(() => appendEntry([], draft, { privateKey, accountant })).toThrow(/userId: must be 1-128 printable ASCII/);
    expect(() => appendEntry([], { ...draft, userId: 'u', spend: { ...draft.spend, steps: 1.5 } }, { privateKey, accountant })).toThrow(/spend\.steps/);
    expect(() => appendEntry([], { ...draft, userId: 'u', spend: { ...draft.spend, noiseMultiplier: 0 } }, { privateKey, accountant })).toThrow(/spend\.noiseMultiplier/);
    const infinite = { name: 'rdp' as const, epsilon: (_h: unknown, delta: number) => ({ epsilon: Infinity, delta, accountant: 'rdp' as const }) };
    expect(() => appendEntry([], { ...draft, userId: 'u' }, { privateKey, accountant: infinite })).toThrow(/finite epsilon/);
  });
});

describe('verifyLedger', () => {
  it('accepts a sound ledger and recomputes its epsilon', () => {
    const v = verifyLedger(ledger, opts);
    expect(v.faults).toEqual([]);
    expect(v.ok).toBe(true);
    expect(v.entries).toBe(N);
    expect(v.epsilon).toBe(ledger[N - 1].epsilonAfter);
    expect(v.claimedEpsilon).toBe(ledger[N - 1].epsilonAfter);
    expect(v.head).toEqual({ index: N - 1, hash: hashEntry(ledger[N - 1]) });
    expect(v.signaturesChecked).toBe(true);
    expect(v.keyId).toBe(keyIdOf(publicKey));
  });

  it('an empty ledger is sound with epsilon 0', () => {
    expect(verifyLedger([], opts)).toMatchObject({ ok: true, entries: 0, epsilon: 0, head: null });
  });

  it('a flipped byte in a signed field: bad signature there, broken chain after it', () => {
    const text = toJsonl(ledger);
    const lines = text.split('\n');
    lines[3] = lines[3].replace('"watch-7"', '"watch-8"');
    const v = verifyLedgerText(lines.join('\n'), opts);
    expect(kinds(v)).toEqual(['3:bad-signature', '4:broken-chain']);
    expect(v.faults[0].line).toBe(4);
  });

  it('a flipped byte in the spend also shows whether the claim still covers the spend', () => {
    const tampered = ledger.map((e) => ({ ...e, spend: { ...e.spend } }));
    tampered[2].spend.steps = 5000; // more steps than were signed: epsilon from here on grows past every claim
    const v = verifyLedger(tampered, opts);
    expect(kinds(v)).toEqual(['2:bad-signature', '2:under-claimed-epsilon', '3:broken-chain', '3:under-claimed-epsilon', '4:under-claimed-epsilon', '5:under-claimed-epsilon']);
    expect(v.epsilon).toBeGreaterThan(ledger[N - 1].epsilonAfter);
  });

  it('a dropped entry: index gap and broken chain at the entry after the hole; recomputed epsilon lacks that spend', () => {
    const v = verifyLedger([...ledger.slice(0, 2), ...ledger.slice(3)], opts);
    expect(kinds(v)).toEqual(['2:index-gap', '2:broken-chain']);
    expect(v.faults[0].detail).toMatch(/index 3 follows index 1: 1 entry missing/);
    expect(v.ok).toBe(false);
  });

  it('a dropped first entry: the ledger does not start at genesis', () => {
    const v = verifyLedger(ledger.slice(1), opts);
    expect(kinds(v)).toEqual(['0:index-gap', '0:broken-chain']);
    expect(v.faults[1].detail).toMatch(/genesis/);
  });

  it('reordered entries: out-of-order indexes and broken links at every affected position', () => {
    const swapped = [...ledger];
    [swapped[2], swapped[3]] = [swapped[3], swapped[2]];
    const v = verifyLedger(swapped, opts);
    // Position 3 holds the old entry 2, whose claim covered spends 0-2; spends 0, 1, 3, 2 exceed it.
    expect(kinds(v)).toEqual(['2:index-gap', '2:broken-chain', '3:index-out-of-order', '3:broken-chain', '3:under-claimed-epsilon', '4:index-gap', '4:broken-chain']);
  });

  it('a duplicated entry is out of order, and its spend counts twice (over-count, never under)', () => {
    const v = verifyLedger([...ledger.slice(0, 3), ledger[2], ...ledger.slice(3)], opts);
    // The entry after the copy links to the copy's (identical) hash, so the chain resumes there.
    expect(kinds(v)).toEqual(['3:index-out-of-order', '3:broken-chain', '3:under-claimed-epsilon', '4:under-claimed-epsilon', '5:under-claimed-epsilon', '6:under-claimed-epsilon']);
    expect(v.epsilon).toBeGreaterThan(ledger[N - 1].epsilonAfter);
  });

  it('an under-claimed epsilon, even validly signed and chained, is reported at that entry', () => {
    const lowered = [...ledger];
    lowered[2] = { ...lowered[2], epsilonAfter: lowered[2].epsilonAfter * 0.9 };
    const v = verifyLedger(relink(lowered, 2), opts);
    expect(kinds(v)).toEqual(['2:under-claimed-epsilon']);
    expect(v.faults[0].detail).toContain(String(ledger[2].epsilonAfter));
  });

  it('over-claiming is conservative and allowed; the tolerance only absorbs float noise', () => {
    const raised = [...ledger];
    raised[2] = { ...raised[2], epsilonAfter: raised[2].epsilonAfter + 1 };
    expect(verifyLedger(relink(raised, 2), opts).ok).toBe(true);
    const hair = [...ledger];
    hair[2] = { ...hair[2], epsilonAfter: hair[2].epsilonAfter * (1 - 1e-12) };
    expect(verifyLedger(relink(hair, 2), opts).ok).toBe(true);
    const below = [...ledger];
    below[2] = { ...below[2], epsilonAfter: below[2].epsilonAfter * (1 - 1e-6) };
    expect(kinds(verifyLedger(relink(below, 2), opts))).toEqual(['2:under-claimed-epsilon']);
  });

  it('the wrong public key: every entry is a key mismatch', () => {
    const v = verifyLedger(ledger, { ...opts, publicKey: other.publicKey });
    expect(kinds(v)).toEqual(ledger.map((_, i) => `${i}:key-mismatch`));
    expect(v.faults[0].detail).toContain(keyIdOf(other.publicKey));
  });

  it('an entry signed by another key that claims our key id: bad signature', () => {
    const forged = [...ledger];
    const { signature: _s, ...unsigned } = forged[4];
    void _s;
    forged[4] = signEntry(unsigned, other.privateKey); // keyId still names the real key
    expect(kinds(verifyLedger(forged, opts))).toEqual(['4:bad-signature', '5:broken-chain']);
  });

  it('without a key, signatures are not checked and the verdict says so', () => {
    const v = verifyLedger(ledger, { ...opts, publicKey: null });
    expect(v).toMatchObject({ ok: true, signaturesChecked: false, keyId: null });
  });

  it('a spend at another delta, another accountant, or another user is a fault at that entry', () => {
    const d = [...ledger];
    d[3] = { ...d[3], spend: { ...d[3].spend, delta: 1e-3 } };
    expect(kinds(verifyLedger(relink(d, 3), opts))).toEqual(['3:delta-mismatch']);
    expect(kinds(verifyLedger(ledger, { ...opts, delta: 1e-6 }))).toEqual(ledger.map((_, i) => `${i}:delta-mismatch`));
    const u = [...ledger];
    u[1] = { ...u[1], userId: 'user-2' };
    expect(kinds(verifyLedger(relink(u, 1), opts))).toEqual(['1:user-mismatch']);
    expect(kinds(verifyLedger(ledger, { ...opts, accountant: prvNamed }))).toEqual(ledger.map((_, i) => `${i}:accountant-mismatch`));
  });

  it('a ledger cut short or rewritten since an earlier audit is a rollback', () => {
    const head = verifyLedger(ledger, opts).head!;
    expect(verifyLedger(ledger, { ...opts, knownHead: head }).ok).toBe(true);
    expect(kinds(verifyLedger(ledger.slice(0, 4), { ...opts, knownHead: head }))).toEqual(['4:rollback']);
    const rewritten = [...ledger];
    rewritten[5] = { ...rewritten[5], round: 99 };
    expect(kinds(verifyLedger(relink(rewritten, 5), { ...opts, knownHead: head }))).toEqual(['5:rollback']);
  });

  it('malformed and unknown-version entries are named, and the chain check resumes after them', () => {
    const bad: unknown[] = [...ledger];
    bad[1] = { ...ledger[1], extra: 1 };
    bad[3] = { ...ledger[3], v: 2 };
    bad[4] = 'nope';
    const v = verifyLedger(bad, opts);
    expect(kinds(v)).toEqual(['1:malformed', '3:unsupported-version', '4:malformed']);
    expect(v.faults[0].detail).toMatch(/Unrecognized key: "extra"/);
    expect(v.faults[1].detail).toMatch(/v is 2/);
  });

  it('an accountant that throws makes the claim unverifiable, not silently accepted', () => {
    const broken = { name: 'rdp' as const, epsilon: () => { throw new Error('out of domain'); } };
    const v = verifyLedger(ledger.slice(0, 2), { ...opts, accountant: broken });
    expect(kinds(v)).toEqual(['0:epsilon-unverifiable', '1:epsilon-unverifiable', '1:epsilon-unverifiable']);
    expect(v.epsilon).toBe(Number.POSITIVE_INFINITY);
  });

  it('bad options are refused by name', () => {
    expect(() => verifyLedger(ledger, { ...opts, delta: 2 })).toThrow(/delta must be in \(0, 1\)/);
    expect(() => verifyLedger(ledger, { ...opts, publicKey: 'not a pem' })).toThrow();
    expect(() => verifyLedger(ledger, { ...opts, publicKey: privateKey })).not.toThrow(); // public half is used
  });
});
