/**
 * `fedwear bench`: runs every benchmark script in its own process (so one's JIT state and heap
 * never colour another's), then gathers bench/results/<name>.json into one dated file and a
 * markdown table with the reference each row is compared against.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describeMachine, type Measurement } from './harness.ts';

const BENCH_DIR = import.meta.dirname;
const RESULTS = path.join(BENCH_DIR, 'results');
// fuzz.ts is issue 11's nightly mode (a million inputs per target, ~10 min), not a timing with a
// reference: run it on its own (`npx tsx bench/fuzz.ts`), its results stay in results/fuzz.json.
const NOT_BENCHMARKS = new Set(['harness.ts', 'run-all.ts', 'fuzz.ts', 'fleet.ts']);

export function benchmarkNames(): string[] {
  return fs
    .readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts') && !NOT_BENCHMARKS.has(f))
    .map((f) => f.slice(0, -3))
    .sort();
}

interface ResultFile {
  name: string;
  machine: Record<string, unknown>;
  notes?: string;
  measurements: Measurement[];
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

export function markdownTable(files: ResultFile[]): string {
  const lines = ['| benchmark | measurement | median | unit | reference | ratio (>1: faster or smaller than the reference) |', '|---|---|---|---|---|---|'];
  for (const f of files) {
    for (const m of f.measurements ?? []) {
      const ref = m.reference ? `${m.reference.name}: ${fmt(m.reference.value)} ${m.reference.unit}` : '';
      const ratio = m.reference ? `${m.reference.ratio.toFixed(2)}x` : '';
      lines.push(`| ${f.name} | ${m.name} | ${fmt(m.median)} | ${m.unit} | ${ref} | ${ratio} |`);
    }
  }
  return lines.join('\n');
}

export function runAll(opts: { only?: string[]; log?: (s: string) => void } = {}): { json: string; markdown: string; failed: string[] } {
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const names = benchmarkNames().filter((n) => !opts.only?.length || opts.only.includes(n));
  const failed: string[] = [];
  for (const name of names) {
    log(`bench: ${name}`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, `${name}.ts`)], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) failed.push(name);
  }
  const files: ResultFile[] = names
    .filter((n) => fs.existsSync(path.join(RESULTS, `${n}.json`)))
    .map((n) => JSON.parse(fs.readFileSync(path.join(RESULTS, `${n}.json`), 'utf8')) as ResultFile);
  const date = new Date().toISOString().slice(0, 10);
  const json = path.join(RESULTS, `${date}.json`);
  const markdown = path.join(RESULTS, `${date}.md`);
  const machine = describeMachine();
  fs.writeFileSync(json, JSON.stringify({ date, machine, failed, results: files }, null, 2) + '\n');
  fs.writeFileSync(
    markdown,
    `# fedwear benchmarks, ${date}\n\nMachine: ${machine.cpuModel}, ${machine.logicalCpus} logical CPUs, ${machine.memoryGiB} GiB, ${machine.platform}, Node ${machine.node}.\n` +
      `Medians over repeated runs after a warm-up; each benchmark's own file says what it measures.\n\n${markdownTable(files)}\n`,
  );
  return { json, markdown, failed };
}
