import path from 'node:path';
import type { Command } from 'commander';
import { positiveInt, positiveNumber } from './options.ts';

interface DemoFlags {
  users: number;
  rounds: number;
  epsilon: number;
  strategy: string;
  compression: string;
  transport: string;
  seed: number;
  reportDir?: string;
  nonPrivate?: boolean;
  compare?: boolean;
  trainMinutes: number;
  trainSchedule: string;
  testHours: number;
  model?: string;
  keep?: boolean;
  sampleRate?: number;
  steps?: number;
  lr?: number;
  mu?: number;
  dashboard: boolean;
  dashboardPort: number;
}

const oneOf = (flag: string, value: string, allowed: readonly string[]): void => {
  if (!allowed.includes(value)) throw new Error(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
};

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the main job (what npm start runs): a whole private federation on the embedded broker, with a report')
    .option('--users <n>', 'simulated users, each with its own wearable and gateway (clusters round-robin)', positiveInt, 20)
    .option('--rounds <n>', 'federated rounds', positiveInt, 5)
    .option('--epsilon <e>', "each user's privacy budget (record-level epsilon at delta 1e-5, over all rounds)", positiveNumber, 8)
    .option('--strategy <name>', 'fedavg, fedadam, trimmed-mean, coordinate-median or norm-bounding', 'fedavg')
    .option('--compression <enc>', 'update encoding: int8-dense, int8-topk (10% density, error feedback) or float32', 'int8-dense')
    .option('--transport <kind>', 'auto (serial pseudo-terminals when socat is installed), pty or memory', 'auto')
    .option('--seed <n>', 'seed of the simulated population (same seed, same data)', positiveInt, 7)
    .option('--report-dir <dir>', 'where report.json and report.html go (default reports/<timestamp>)')
    .option('--non-private', 'the comparison run: sigma 1e-6 (no noise in practice), same clipping; epsilon is astronomical')
    .option('--compare', 'after the private run, the same run without privacy; both in one report (twice the time)')
    .option('--train-minutes <n>', "minutes of each user's labelled training period (a chest strap worn throughout)", positiveInt, 720)
    .option('--train-schedule <kind>', 'the labelled period: day (a normal day from 08:00) or session (workouts back to back)', 'day')
    .option('--test-hours <n>', 'hours of each user\'s held-out period (a normal day), scored against the truth', positiveInt, 24)
    .option('--sample-rate <q>', 'DP-SGD Poisson sample rate per step (default 0.2)', positiveNumber)
    .option('--steps <n>', 'DP-SGD steps per round (default 40)', positiveInt)
    .option('--lr <x>', 'local learning rate (default 0.05)', positiveNumber)
    .option('--mu <x>', 'FedProx mu on the shared body (default 0.1)', (v: string) => (v === '0' ? 0 : positiveNumber(v)))
    .option('--model <dir>', 'base model directory (default models/base)')
    .option('--no-dashboard', 'do not serve the live privacy dashboard')
    .option('--dashboard-port <n>', 'loopback port of the live dashboard (0: any free port)', (v: string) => (v === '0' ? 0 : positiveInt(v)), 0)
    .option('--keep', 'keep the gateways\', aggregator\'s and broker\'s working files (printed)')
    .addHelpText(
      'after',
      `
Starts the MQTT broker (aedes) with the in-process aggregator and an auditor, one gateway service
per simulated user (own data dir, Ed25519 key, credentials), feeds each gateway its wearable's
frames, runs the rounds, and prints per cluster the MAE of Keytel, the base model, the federated
model (global model after the last round) and the personalized model (each gateway's int8 model),
plus every user's epsilon against the budget and the audit verdict. DP-SGD's sigma is calibrated
so that all rounds together stay within the budget. report.json and a self-contained report.html
go to --report-dir.`,
    )
    .action(async (flags: DemoFlags) => {
      const { runFederatedDemo, runWithComparison, terminalProgress, formatTables, STRATEGIES, COMPRESSIONS } = await import('../demo/index.ts');
      oneOf('--transport', flags.transport, ['auto', 'pty', 'memory']);
      oneOf('--strategy', flags.strategy, STRATEGIES);
      oneOf('--compression', flags.compression, COMPRESSIONS);
      oneOf('--train-schedule', flags.trainSchedule, ['day', 'session']);
      const reportDir = flags.reportDir ?? path.join('reports', new Date().toISOString().replace(/[:.]/g, '-'));
      const progress = terminalProgress();
      progress.log(
        `fedwear demo: ${flags.users} users, ${flags.rounds} rounds, ${flags.strategy}, ${flags.compression}, seed ${flags.seed}, ` +
          (flags.nonPrivate ? 'NON-PRIVATE comparison run' : `budget epsilon ${flags.epsilon} at delta 1e-5`),
      );
      // Ctrl-C stops the run cleanly: socat links, gateways, broker and the work dir are removed.
      const ac = new AbortController();
      const stop = (): void => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      if (flags.compare && flags.nonPrivate) throw new Error('--compare already includes the non-private run; give one of --compare and --non-private');
      const r = await (flags.compare ? runWithComparison : runFederatedDemo)(
        {
          users: flags.users,
          rounds: flags.rounds,
          seed: flags.seed,
          epsilon: flags.epsilon,
          delta: 1e-5,
          strategy: flags.strategy as (typeof STRATEGIES)[number],
          compression: flags.compression as (typeof COMPRESSIONS)[number],
          transport: flags.transport as 'auto' | 'pty' | 'memory',
          reportDir,
          nonPrivate: flags.nonPrivate === true,
          trainS: flags.trainMinutes * 60,
          testS: flags.testHours * 3600,
          trainSchedule: flags.trainSchedule as 'day' | 'session',
          ...(flags.model ? { modelDir: path.resolve(flags.model) } : {}),
          keepWorkDir: flags.keep === true,
          local: {
            ...(flags.sampleRate === undefined ? {} : { sampleRate: flags.sampleRate }),
            ...(flags.steps === undefined ? {} : { steps: flags.steps }),
            ...(flags.lr === undefined ? {} : { lr: flags.lr }),
            ...(flags.mu === undefined ? {} : { mu: flags.mu }),
          },
          signal: ac.signal,
          ...(flags.dashboard ? { dashboardPort: flags.dashboardPort } : {}),
        },
        progress,
      ).finally(() => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      });
      process.stdout.write(formatTables(r.report) + '\n');
      process.stdout.write(`wall time ${r.report.wallTimeS.toFixed(0)} s\nreport: ${r.jsonFile}\n        ${r.htmlFile}\n`);
    });
}
