import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { readLedgerFile, verifyLedgerFile } from '../../privacy/ledger/index.ts';
import { rdpAccountant } from '../../privacy/rdp.ts';
import { REPO } from '../helpers/run-cli.ts';
import { keyPair, rng } from './helpers.ts';

const SPENDER = join(import.meta.dirname, 'fixtures/spender.ts');
const PER_CHILD = 30;

const dir = mkdtempSync(join(tmpdir(), 'fedwear-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  released: { index: number; epsilon: number }[];
  opened: string;
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

interface Child {
  /** Resolves when the child has loaded and waits for "go". */
  ready: Promise<void>;
  /** Lets it open the ledger and spend; resolves when it is gone (killed after killAfter releases). */
  go(killAfter: number): Promise<Run>;
}

/**
 * Starts a spender that waits for "go"; then SIGKILLs it right after its killAfter-th "released"
 * line (0: right after "opened", before any spend).
 */
function startSpender(ledger: string, key: string): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', SPENDER, ledger, key, String(PER_CHILD)], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  const run: Run = { released: [], opened: '', signal: null, code: null, stderr: '' };
  let killAfter = -1;
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stderr.on('data', (d) => (run.stderr += d));
  child.stdin.on('error', () => undefined); // EPIPE if it died early; the exit assertions catch that
  const closed = new Promise<Run>((resolve) =>
    child.once('close', (code, signal) => {
      run.code = code;
      run.signal = signal;
      onReady(); // unblock a waiter if it died before "ready"
      resolve(run);
    }),
  );
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line === 'ready') return onReady();
    const m = /^released (\d+) (\S+)$/.exec(line);
    if (m) run.released.push({ index: Number(m[1]), epsilon: Number(m[2]) });
    else if (line.startsWith('opened')) run.opened = line;
    if ((m && run.released.length === killAfter) || (killAfter === 0 && line.startsWith('opened'))) child.kill('SIGKILL');
  });
  return {
    ready,
    go(k: number) {
      killAfter = k;
      child.stdin.write('go\n');
      return closed;
    },
  };
}

describe('crash safety of the ledger (child SIGKILLed at seeded points)', () => {
  it('after every kill the ledger verifies and covers every spend the child released', async () => {
    const { privateKey, publicKey } = keyPair();
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const ledger = join(dir, 'ledger.jsonl');
    const r = rng(20250301);
    const released: { index: number; epsilon: number }[] = [];
    // Kill points: right after open, right after the first release (wherever the child then is in
    // its write/fsync cycle), and after the k-th release for seeded k.
    const killPoints = [0, 1, 1, ...Array.from({ length: 2 }, () => 1 + Math.floor(r() * (PER_CHILD - 1)))];
    let previousEntries = 0;

    // All children load up front (start-up is most of their cost); each touches the ledger only
    // after its "go", once the previous one is dead and the ledger has been checked.
    const children = killPoints.map(() => startSpender(ledger, keyFile));
    for (const [i, k] of killPoints.entries()) {
      await children[i].ready;
      const run = await children[i].go(k);
      expect(run.stderr).toBe('');
      expect(run.signal === 'SIGKILL' || (run.code === 0 && k >= PER_CHILD)).toBe(true);
      expect(run.released.length).toBeGreaterThanOrEqual(k);
      // The child found the ledger exactly as the previous child left it (all entries, verified).
      expect(run.opened).toMatch(new RegExp(`^opened ${previousEntries} `));
      released.push(...run.released);

      const verdict = await verifyLedgerFile(ledger, { publicKey, accountant: rdpAccountant });
      expect(verdict.faults).toEqual([]);
      const parsed = await readLedgerFile(ledger);
      const entries = parsed.lines.map((l) => (l.check.ok ? l.check.entry : null));
      for (const rel of released) {
        // Every released spend is on disk, with the epsilon the child reported...
        expect(entries[rel.index]?.epsilonAfter).toBe(rel.epsilon);
        // ...and the recomputed total covers it.
        expect(verdict.epsilon).toBeGreaterThanOrEqual(rel.epsilon);
      }
      previousEntries = verdict.entries;
    }
    expect(released.length).toBeGreaterThanOrEqual(killPoints.reduce((a, b) => a + b, 0));
  });
});
