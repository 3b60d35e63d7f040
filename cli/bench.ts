import type { Command } from 'commander';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('run every benchmark and write bench/results/<date>.json and .md')
    .option('--only <names>', 'comma-separated benchmark names (default: all)')
    .option('--list', 'list the benchmarks and exit')
    .action(async (flags: { only?: string; list?: boolean }) => {
      const { runAll, benchmarkNames } = await import('../bench/run-all.ts');
      if (flags.list) {
        process.stdout.write(benchmarkNames().join('\n') + '\n');
        return;
      }
      const only = flags.only?.split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = only?.filter((n) => !benchmarkNames().includes(n)) ?? [];
      if (unknown.length) throw new Error(`unknown benchmark(s): ${unknown.join(', ')} (see fedwear bench --list)`);
      const r = runAll({ only });
      process.stdout.write(`wrote ${r.json}\nwrote ${r.markdown}\n`);
      if (r.failed.length) {
        process.stderr.write(`failed: ${r.failed.join(', ')}\n`);
        process.exitCode = 1;
      }
    });
}
