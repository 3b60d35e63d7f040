import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { registerLedgerCommands } from '../../cli/privacy-ledger.ts';
import { keyIdOf, readPrivateKeyFile } from '../../privacy/ledger/index.ts';
import { runCli } from '../helpers/run-cli.ts';
import { buildLedger, keyPair, toJsonl } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'fedwear-ledger-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

/** Runs `privacy ledger ARGS` in-process; returns stdout and the exit code the command set. */
async function run(args: string[]): Promise<{ out: string; code: number }> {
  const privacy = new Command('privacy').exitOverride();
  registerLedgerCommands(privacy);
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  await privacy.parseAsync(['ledger', ...args], { from: 'user' });
  vi.restoreAllMocks();
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { out, code };
}

describe('fedwear privacy ledger', () => {
  it('keygen writes a key pair, the private key with mode 0600, and refuses to overwrite it', async () => {
    const out = join(dir, 'keys');
    const r = await run(['keygen', '--out', out]);
    expect(statSync(join(out, 'ledger-key.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(out, 'ledger-key.pub.pem'), 'utf8')).toMatch(/BEGIN PUBLIC KEY/);
    const key = await readPrivateKeyFile(join(out, 'ledger-key.pem'));
    expect(r.out).toContain(`key id ${keyIdOf(key)}`);
    await expect(run(['keygen', '--out', out])).rejects.toThrow(/already exists; refusing to overwrite/);
  });

  it('verify: OK with exit 0 for a sound ledger; FAILED with exit 1 naming line and kind for a tampered one', async () => {
    const keys = join(dir, 'verify-keys');
    await run(['keygen', '--out', keys]);
    const privateKey = await readPrivateKeyFile(join(keys, 'ledger-key.pem'));
    const ledger = buildLedger(4, privateKey);
    const good = join(dir, 'good.jsonl');
    writeFileSync(good, toJsonl(ledger) + '{"v":1,"ind'); // plus a torn tail
    const ok = await run(['verify', good, '--public-key', join(keys, 'ledger-key.pub.pem')]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/4 entries/);
    expect(ok.out).toMatch(/torn tail at line 5/);
    expect(ok.out).toContain(`epsilon ${ledger[3].epsilonAfter} recomputed (rdp, delta 0.00001)`);
    expect(ok.out).toContain(`signatures checked with key ${keyIdOf(privateKey)}`);
    expect(ok.out).toMatch(/verdict: OK/);

    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, toJsonl(ledger).replace('"round":2', '"round":9'));
    const failed = await run(['verify', bad, '--public-key', join(keys, 'ledger-key.pub.pem')]);
    expect(failed.code).toBe(1);
    expect(failed.out).toMatch(/verdict: FAILED, 2 faults/);
    expect(failed.out).toMatch(/line 3 \(entry 2\) bad-signature/);
    expect(failed.out).toMatch(/line 4 \(entry 3\) broken-chain/);

    const json = await run(['verify', bad, '--public-key', join(keys, 'ledger-key.pub.pem'), '--json']);
    expect(json.code).toBe(1);
    const verdict = JSON.parse(json.out);
    expect(verdict.faults.map((f: { index: number; kind: string }) => `${f.index}:${f.kind}`)).toEqual(['2:bad-signature', '3:broken-chain']);
    expect(verdict.ok).toBe(false);
  });

  it('verify without a key says signatures were not checked; a wrong delta or bad option is an error', async () => {
    const { privateKey } = keyPair();
    const file = join(dir, 'nokey.jsonl');
    writeFileSync(file, toJsonl(buildLedger(2, privateKey)));
    const r = await run(['verify', file]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/signatures NOT checked/);
    expect((await run(['verify', file, '--delta', '0.001'])).code).toBe(1);
    await expect(run(['verify', file, '--accountant', 'gdp'])).rejects.toThrow(/Allowed choices are rdp, prv/);
    await expect(run(['verify', join(dir, 'missing.jsonl')])).rejects.toThrow(/ENOENT/);
  });

  it('through the real bin: fedwear privacy ledger verify exits 1 on a fault and 0 on a sound ledger', async () => {
    const { privateKey, publicKey } = keyPair();
    const pub = join(dir, 'bin.pub.pem');
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    const entries = buildLedger(3, privateKey);
    const good = join(dir, 'bin-good.jsonl');
    const bad = join(dir, 'bin-bad.jsonl');
    writeFileSync(good, toJsonl(entries));
    writeFileSync(bad, toJsonl([entries[0], entries[2]]));
    const [ok, failed] = await Promise.all([
      runCli(['privacy', 'ledger', 'verify', good, '--public-key', pub]),
      runCli(['privacy', 'ledger', 'verify', bad, '--public-key', pub, '--json']),
    ]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/verdict: OK/);
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout).faults.map((f: { line: number; kind: string }) => `${f.line}:${f.kind}`)).toEqual(['2:index-gap', '2:broken-chain']);
  });
});
