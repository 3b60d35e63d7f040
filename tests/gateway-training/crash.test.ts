import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { rdpAccountant, readLedgerFile, verifyLedgerFile } from '../../privacy/index.ts';
import { REPO } from '../helpers/run-cli.ts';
import { keyPair } from './helpers.ts';

const CHILD = join(import.meta.dirname, 'fixtures/round-child.ts');
const dir = mkdtempSync(join(tmpdir(), 'fedwear-train-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  lines: string[];
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

/** Starts a round child; `go` lets it run and SIGKILLs it at the first stdout line matching killAt. */
function startChild(ledger: string, key: string, steps: number, round: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ledger, key, String(steps), String(round)], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  const run: Run = { lines: [], signal: null, code: null, stderr: '' };
  let killAt: RegExp | null = null;
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stderr.on('data', (d) => (run.stderr += d));
  child.stdin.on('error', () => undefined);
  const closed = new Promise<Run>((resolve) =>
    child.once('close', (code, signal) => {
      run.code = code;
      run.signal = signal;
      onReady();
      resolve(run);
    }),
  );
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line === 'ready') return onReady();
    run.lines.push(line);
    if (killAt?.test(line)) child.kill('SIGKILL');
  });
  return {
    ready,
    go(at: RegExp | null): Promise<Run> {
      killAt = at;
      child.stdin.write('go\n');
      return closed;
    },
  };
}

const valueOf = (run: Run, tag: string): number | undefined => {
  const line = run.lines.find((l) => l.startsWith(`${tag} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
};

describe('crash during a round (child SIGKILLed mid-training)', () => {
  it('leaves a ledger that verifies and charges the killed run; the next round appends after it', async () => {
    const { privateKey, publicKey } = keyPair();
    const key = join(dir, 'key.pem');
    writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const ledger = join(dir, 'ledger.jsonl');
    // Both load up front (start-up is most of their cost); the second touches the ledger only after its go.
    const killed = startChild(ledger, key, 1_000_000, 1);
    const finisher = startChild(ledger, key, 50, 2);

    await killed.ready;
    const a = await killed.go(/^step 2000$/);
    expect(a.stderr).toBe('');
    expect(a.signal).toBe('SIGKILL');
    expect(a.lines).toContain('opened 0');
    expect(a.lines.some((l) => l.startsWith('released'))).toBe(false); // killed mid-round, nothing left
    const durable = valueOf(a, 'durable');
    expect(durable).toBeGreaterThan(0);

    let verdict = await verifyLedgerFile(ledger, { publicKey, accountant: rdpAccountant });
    expect(verdict.faults).toEqual([]);
    expect(verdict.entries).toBe(1);
    // The run never released anything, yet its whole spend is counted: over-counting only.
    expect(verdict.epsilon).toBeGreaterThanOrEqual(durable as number);
    const first = (await readLedgerFile(ledger)).lines[0].check;
    expect(first.ok && first.entry.spend.steps).toBe(1_000_000);

    await finisher.ready;
    const b = await finisher.go(null);
    expect(b.stderr).toBe('');
    expect(b.code).toBe(0);
    expect(b.lines).toContain('opened 1');
    const released = valueOf(b, 'released') as number;
    verdict = await verifyLedgerFile(ledger, { publicKey, accountant: rdpAccountant });
    expect(verdict.faults).toEqual([]);
    expect(verdict.entries).toBe(2);
    expect(verdict.epsilon).toBeGreaterThanOrEqual(released);
    expect(released).toBeGreaterThan(durable as number);
  });
});
