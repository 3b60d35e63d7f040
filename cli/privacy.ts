import { InvalidArgumentError, Option, type Command } from 'commander';
import type { AccountantName } from '../privacy/types.ts';
import { positiveInt, positiveNumber } from './options.ts';
import { registerLedgerCommands } from './privacy-ledger.ts';
import { registerAuditCommand } from './privacy-audit.ts';

/** A probability in (0, 1] (sample rates). */
function rate(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError(`expected a number in (0, 1], got "${value}"`);
  return n;
}

/** A delta in (0, 1). */
function openUnit(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError(`expected a number in (0, 1), got "${value}"`);
  return n;
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (!(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number >= 0, got "${value}"`);
  return n;
}

const accountantOption = () => new Option('--accountant <name>', 'privacy accountant').choices(['rdp', 'prv']).default('rdp');

function print(json: boolean, data: Record<string, unknown>, text: string): void {
  process.stdout.write(json ? JSON.stringify(data) + '\n' : text + '\n');
}

/**
 * `fedwear privacy ...`: calculators (epsilon, noise-multiplier) and the DP-SGD conformance check.
 * Returns the `privacy` command so other areas can add subcommands under it.
 */
export function registerPrivacy(program: Command): Command {
  const privacy = program.command('privacy').description('privacy calculators (epsilon, noise multiplier), DP-SGD conformance, the privacy ledger');

  privacy
    .command('epsilon')
    .description('epsilon spent by DP-SGD with Poisson sampling after T steps')
    .requiredOption('--noise-multiplier <sigma>', 'noise multiplier sigma (noise std = sigma * C)', nonNegative)
    .requiredOption('--sample-rate <q>', 'Poisson sampling rate q', rate)
    .requiredOption('--steps <T>', 'number of steps', positiveInt)
    .requiredOption('--delta <delta>', 'target delta', openUnit)
    .addOption(accountantOption())
    .option('--json', 'print JSON')
    .action(async (opts: { noiseMultiplier: number; sampleRate: number; steps: number; delta: number; accountant: AccountantName; json?: boolean }) => {
      const { loadAccountant } = await import('../privacy/index.ts');
      const accountant = await loadAccountant(opts.accountant);
      const r = accountant.epsilon([{ noiseMultiplier: opts.noiseMultiplier, sampleRate: opts.sampleRate, steps: opts.steps }], opts.delta);
      const data: Record<string, unknown> = { epsilon: r.epsilon, accountant: r.accountant, delta: r.delta };
      if (r.order !== undefined) data.order = r.order;
      if (r.estimate !== undefined) data.estimate = r.estimate;
      if (r.lower !== undefined) data.lower = r.lower;
      const detail = r.order !== undefined ? `, best order ${r.order}` : r.estimate !== undefined ? `, estimate ${r.estimate}` : '';
      print(opts.json ?? false, data, `epsilon ${r.epsilon} at delta ${r.delta} (${r.accountant} accountant${detail})`);
    });

  privacy
    .command('noise-multiplier')
    .description('smallest noise multiplier (Opacus get_noise_multiplier bisection) reaching a target epsilon')
    .requiredOption('--target-epsilon <eps>', 'target epsilon', positiveNumber)
    .requiredOption('--delta <delta>', 'target delta', openUnit)
    .requiredOption('--sample-rate <q>', 'Poisson sampling rate q', rate)
    .option('--steps <T>', 'number of steps', positiveInt)
    .option('--epochs <E>', 'epochs instead of steps (steps = int(E / q), as Opacus)', positiveNumber)
    .option('--epsilon-tolerance <tol>', 'stop within this of the target', positiveNumber, 0.01)
    .addOption(accountantOption())
    .option('--json', 'print JSON')
    .action(
      async (opts: { targetEpsilon: number; delta: number; sampleRate: number; steps?: number; epochs?: number; epsilonTolerance: number; accountant: AccountantName; json?: boolean }) => {
        if ((opts.steps === undefined) === (opts.epochs === undefined)) throw new InvalidArgumentError('give exactly one of --steps and --epochs');
        const { calibrateNoiseMultiplier, loadAccountant } = await import('../privacy/index.ts');
        const r = calibrateNoiseMultiplier({
          targetEpsilon: opts.targetEpsilon,
          delta: opts.delta,
          sampleRate: opts.sampleRate,
          steps: opts.steps,
          epochs: opts.epochs,
          accountant: await loadAccountant(opts.accountant),
          epsilonTolerance: opts.epsilonTolerance,
        });
        print(
          opts.json ?? false,
          { noiseMultiplier: r.noiseMultiplier, epsilon: r.epsilon, steps: r.steps, accountant: opts.accountant, delta: opts.delta },
          `noise multiplier ${r.noiseMultiplier} (epsilon ${r.epsilon} after ${r.steps} steps at delta ${opts.delta}, ${opts.accountant} accountant)`,
        );
      },
    );

  privacy
    .command('conformance')
    .description('run a DP-SGD test vector (format of shared/vectors/dp-step.json) and print norms, clip factors, gradient, new weights as JSON; exits 1 if it disagrees with the expected values')
    .argument('<file>', 'test vector (JSON)')
    .action(async (file: string) => {
      const { readFile } = await import('node:fs/promises');
      const { runDpStepVector } = await import('../privacy/conformance/index.ts');
      let json: unknown;
      try {
        json = JSON.parse(await readFile(file, 'utf8'));
      } catch (err) {
        throw new Error(`conformance: cannot read ${file}: ${(err as Error).message}`);
      }
      const report = runDpStepVector(json);
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      if (!report.pass) process.exitCode = 1;
    });

  registerLedgerCommands(privacy);
  registerAuditCommand(privacy);

  return privacy;
}
