import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.ts';

describe('fedwear --help (what a newcomer runs first)', () => {
  it('lists every command', async () => {
    const r = await runCli(['--help']);
    expect(r.code, r.stderr).toBe(0);
    for (const cmd of ['sim', 'gateway', 'privacy', 'model', 'demo', 'bench']) {
      expect(r.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
    }
  });

  it('names an unknown command as the error', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('names a bad option value', async () => {
    const r = await runCli(['gateway', 'ingest', '--in', 'x', '--store', 'y', '--exit-after', 'many']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--exit-after.*expected a positive whole number, got "many"/);
  });
});
