import path from 'node:path';
import type { Command } from 'commander';
import { positiveInt, positiveNumber } from './options.ts';

interface DemoFlags {
  users: number;
  days: number;
  seed: number;
  out?: string;
  model: string;
  transport: 'auto' | 'pty' | 'memory';
  epsilon: number;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the main job: simulated users, serial links, private per-user fine-tuning, a report (what npm start runs)')
    .option('--users <n>', 'simulated users', positiveInt, 10)
    .option('--days <n>', 'simulated days per user (the last is held out)', positiveInt, 6)
    .option('--seed <n>', 'seed (same seed, same run)', positiveInt, 7)
    .option('--out <dir>', 'report directory (default reports/<timestamp>)')
    .option('--model <dir>', 'base model directory', path.join(import.meta.dirname, '..', 'models', 'base'))
    .option('--transport <kind>', 'auto (pty when socat is installed), pty or memory', 'auto')
    .option('--epsilon <e>', "each user's privacy budget at delta 1e-5", positiveNumber, 8)
    .action(async (flags: DemoFlags) => {
      if (!['auto', 'pty', 'memory'].includes(flags.transport)) throw new Error(`--transport must be auto, pty or memory, got "${flags.transport}"`);
      const { runLocalDemo, clusterTable } = await import('../demo/index.ts');
      const outDir = flags.out ?? path.join('reports', new Date().toISOString().replace(/[:.]/g, '-'));
      const log = (line: string): void => void process.stderr.write(line + '\n');
      log(`fedwear demo: ${flags.users} users, ${flags.days} simulated days each, seed ${flags.seed}, budget epsilon ${flags.epsilon} at delta 1e-5`);
      const r = await runLocalDemo({
        users: flags.users,
        days: flags.days,
        seed: flags.seed,
        outDir,
        modelDir: flags.model,
        transport: flags.transport,
        epsilonMax: flags.epsilon,
        delta: 1e-5,
        log,
      });
      process.stdout.write(clusterTable(r.users) + '\n');
      process.stdout.write(`report: ${r.reportFile}\n`);
    });
}
