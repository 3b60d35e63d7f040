import { InvalidArgumentError, Option, type Command } from 'commander';
import type { AccountantName } from '../privacy/types.ts';
import { positiveInt, positiveNumber } from './options.ts';

function seedValue(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new InvalidArgumentError(`expected a whole number 0..2147483647, got "${value}"`);
  return n;
}

function openUnit(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError(`expected a number in (0, 1), got "${value}"`);
  return n;
}

function rate(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError(`expected a number in (0, 1], got "${value}"`);
  return n;
}

function canaryCount(value: string): number {
  const n = positiveInt(value);
  // Below 20 canaries the guesses are too few to reject anything; above 10^6 the run stops being quick.
  if (n < 20 || n > 1_000_000) throw new InvalidArgumentError(`expected 20..1000000 canaries, got "${value}"`);
  return n;
}

/**
 * `fedwear privacy audit`: the one-run canary audit (privacy/audit/) of DP-SGD as shipped and of a
 * deliberately broken variant, against the accountant's claimed epsilon for the same run.
 * Exits 1 if the correct implementation's lower bound exceeds its claim or the broken one goes unseen.
 */
export function registerAuditCommand(privacy: Command): void {
  privacy
    .command('audit')
    .description('empirical privacy audit (Steinke, Nasr, Jagielski 2023 one-run canary audit): epsilon lower bound of DP-SGD and of a broken variant, against the claimed epsilon')
    .option('--seed <S>', 'seed of the audit run (membership, sampling, noise)', seedValue, 1)
    .option('--canaries <M>', 'number of canaries m', canaryCount, 1000)
    .option('--noise-multiplier <sigma>', 'noise multiplier of the audited run', positiveNumber, 3)
    .option('--sample-rate <q>', 'Poisson sampling rate of the audited run', rate, 0.5)
    .option('--steps <T>', 'DP-SGD steps of the audited run', positiveInt, 10)
    .option('--delta <delta>', 'delta of the claim and of the audit', openUnit, 1e-5)
    .option('--confidence <c>', 'confidence of the lower bound', openUnit, 0.95)
    .addOption(new Option('--broken <variant>', 'the deliberately broken variant').choices(['noise-x0.1', 'no-clipping']).default('noise-x0.1'))
    .addOption(new Option('--accountant <name>', 'accountant that makes the claim').choices(['rdp', 'prv']).default('rdp'))
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        seed: number;
        canaries: number;
        noiseMultiplier: number;
        sampleRate: number;
        steps: number;
        delta: number;
        confidence: number;
        broken: 'noise-x0.1' | 'no-clipping';
        accountant: AccountantName;
        json?: boolean;
      }) => {
        const { loadAccountant, runPrivacyAudit } = await import('../privacy/index.ts');
        const report = runPrivacyAudit({
          accountant: await loadAccountant(opts.accountant),
          canaries: opts.canaries,
          noiseMultiplier: opts.noiseMultiplier,
          sampleRate: opts.sampleRate,
          steps: opts.steps,
          delta: opts.delta,
          beta: 1 - opts.confidence,
          seed: opts.seed,
          brokenVariant: opts.broken,
        });
        if (opts.json) {
          process.stdout.write(JSON.stringify(report) + '\n');
        } else {
          const f = (x: number) => x.toFixed(3);
          process.stdout.write(
            [
              `DP-SGD run: sigma ${report.noiseMultiplier}, q ${report.sampleRate}, ${report.steps} steps; ${report.canaries} canaries, ${report.guesses} guesses, seed ${report.seed}`,
              `claimed epsilon            ${f(report.claimedEpsilon)} at delta ${report.delta} (${report.accountant})`,
              `lower bound, correct       ${f(report.correct.epsilonLowerBound)} (${report.correct.correct}/${report.guesses} right, ${report.confidence * 100}% confidence) ${report.correctWithinClaim ? 'within the claim' : 'EXCEEDS THE CLAIM'}`,
              `lower bound, ${report.broken.variant.padEnd(13)} ${f(report.broken.epsilonLowerBound)} (${report.broken.correct}/${report.guesses} right) ${report.brokenDetected ? 'leak detected' : 'leak NOT detected'}`,
            ].join('\n') + '\n',
          );
        }
        if (!report.correctWithinClaim || !report.brokenDetected) process.exitCode = 1;
      },
    );
}
