import { afterEach, describe, expect, it, vi } from 'vitest';
import path from 'node:path';
import { Command } from 'commander';
import { registerPrivacy } from '../../cli/privacy.ts';

async function run(args: string[]): Promise<string> {
  const program = new Command('fedwear').exitOverride();
  const privacy = registerPrivacy(program);
  privacy.commands.forEach((c) => c.exitOverride());
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['node', 'fedwear', 'privacy', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('fedwear privacy', () => {
  it('epsilon --json gives the Opacus RDP epsilon and order', async () => {
    const out = JSON.parse(await run(['epsilon', '--noise-multiplier', '1.1', '--sample-rate', '0.004266666666666667', '--steps', '14063', '--delta', '1e-5', '--json']));
    expect(out).toEqual({ epsilon: 2.5966555286883684, order: 8.1, accountant: 'rdp', delta: 1e-5 });
  });

  it('noise-multiplier --json by steps and by epochs', async () => {
    expect(JSON.parse(await run(['noise-multiplier', '--target-epsilon', '3', '--delta', '1e-5', '--sample-rate', '0.05', '--steps', '1000', '--json'])).noiseMultiplier).toBe(2.51953125);
    const byEpochs = JSON.parse(await run(['noise-multiplier', '--target-epsilon', '1', '--delta', '1e-5', '--sample-rate', '0.01', '--epochs', '10', '--json']));
    expect(byEpochs.noiseMultiplier).toBe(1.5234375);
    expect(byEpochs.steps).toBe(1000);
  });

  it('conformance prints the report and passes on dp-step.json', async () => {
    const report = JSON.parse(await run(['conformance', path.join(import.meta.dirname, '..', 'fixtures', 'dp-step.json')]));
    expect(report.pass).toBe(true);
    expect(report.variants[0].perSampleNorms.length).toBe(8);
    expect(report.variants[0].newWeights.length).toBe(401);
    expect(process.exitCode).toBeUndefined();
  });

  it('rejects bad options with the option named', async () => {
    await expect(run(['epsilon', '--noise-multiplier', '1', '--sample-rate', '1.5', '--steps', '10', '--delta', '1e-5'])).rejects.toThrow(/--sample-rate/);
    await expect(run(['epsilon', '--noise-multiplier', '1', '--sample-rate', '0.1', '--steps', '10', '--delta', '1e-5', '--accountant', 'gdp'])).rejects.toThrow(/--accountant/);
    await expect(run(['noise-multiplier', '--target-epsilon', '1', '--delta', '1e-5', '--sample-rate', '0.1'])).rejects.toThrow(/--steps and --epochs/);
  });
});
