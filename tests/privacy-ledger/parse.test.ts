import { describe, expect, it } from 'vitest';
import { canonicalize, parseLedgerText, verifyLedgerText } from '../../privacy/ledger/index.ts';
import { accountant, buildLedger, keyPair, rng, toJsonl } from './helpers.ts';

const { privateKey, publicKey } = keyPair();
const ledger = buildLedger(4, privateKey);
const text = toJsonl(ledger);
const opts = { publicKey, accountant };

describe('parseLedgerText', () => {
  it('reads one entry per terminated line, with line numbers', () => {
    const p = parseLedgerText(text);
    expect(p.lines.map((l) => [l.line, l.check.ok])).toEqual([[1, true], [2, true], [3, true], [4, true]]);
    expect(p.tornTail).toBeNull();
    expect(p.validBytes).toBe(Buffer.byteLength(text));
  });

  it('the writer\'s canonical lines and JSON.stringify lines verify alike', () => {
    expect(verifyLedgerText(ledger.map((e) => canonicalize(e) + '\n').join(''), opts).ok).toBe(true);
    expect(verifyLedgerText(text, opts).ok).toBe(true);
  });

  it('an unterminated last line is a torn tail: reported and ignored, at any cut point (seeded)', () => {
    const next = JSON.stringify(buildLedger(5, privateKey)[4]);
    const r = rng(11);
    for (let k = 0; k < 20; k++) {
      const cut = 1 + Math.floor(r() * next.length); // a whole line without its '\n' is torn too
      const v = verifyLedgerText(text + next.slice(0, cut), opts);
      expect(v.ok).toBe(true);
      expect(v.entries).toBe(4);
      expect(v.tornTail).toEqual({ line: 5, offset: Buffer.byteLength(text), bytes: cut });
    }
  });

  it('trailing NULs (blocks allocated but never written) are a torn tail too', () => {
    const v = verifyLedgerText(Buffer.concat([Buffer.from(text), Buffer.alloc(37)]), opts);
    expect(v.ok).toBe(true);
    expect(v.tornTail?.bytes).toBe(37);
  });

  it('corruption in the middle is a fault with its line number and reason, never skipped', () => {
    const lines = text.split('\n');
    lines[1] = lines[1].slice(0, 40); // a truncated line that is still terminated
    const v = verifyLedgerText(lines.join('\n'), opts);
    expect(v.ok).toBe(false);
    expect(v.faults[0]).toMatchObject({ index: 1, line: 2, kind: 'malformed' });
    expect(v.faults[0].detail).toMatch(/^not JSON/);
    // Entry 3 links to the unreadable entry 2: nothing to compare, so no cascade; entry 3 itself is fine.
    expect(v.faults).toHaveLength(1);
  });

  it('names the offending field via the schema', () => {
    const bad = { ...ledger[0], spend: { ...ledger[0].spend, sampleRate: 1.5 }, time: 'yesterday' };
    const p = parseLedgerText(JSON.stringify(bad) + '\n');
    const c = p.lines[0].check;
    expect(c.ok).toBe(false);
    if (!c.ok) {
      expect(c.detail).toMatch(/time: Invalid ISO datetime/);
      expect(c.detail).toMatch(/spend\.sampleRate: Too big/);
    }
  });

  it('an empty line, invalid UTF-8, and a JSON array are each malformed with a reason', () => {
    const p = parseLedgerText(Buffer.concat([Buffer.from('\n'), Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from('[1]\n')]));
    expect(p.lines.map((l) => (l.check.ok ? 'ok' : `${l.line}:${l.check.detail}`))).toEqual(['1:empty line', '2:not valid UTF-8', '3:not a JSON object']);
  });

  it('a rollback past the end of a file has no line to name, only the position', () => {
    const head = { index: 9, hash: 'f'.repeat(64) };
    const v = verifyLedgerText(text, { ...opts, knownHead: head });
    expect(v.faults).toEqual([{ index: 4, kind: 'rollback', detail: expect.stringMatching(/saw entry 9; the ledger no longer contains it/) }]);
  });

  it('an empty file is an empty ledger', () => {
    expect(parseLedgerText('')).toEqual({ lines: [], tornTail: null, validBytes: 0 });
  });
});
