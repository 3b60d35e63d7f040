/**
 * The million-input fuzz mode of issue 11 (the fixed-seed smaller run is in tests/fuzz/).
 *   npx tsx bench/fuzz.ts --iterations 1000000 --target all [--seed S] [--max-seconds T]
 * Reports, per target, inputs tried, failures (with replayable examples), the slowest input and
 * the heap high-water mark, into bench/results/fuzz.json. Targets run one after another and the
 * file is rewritten after each, merged with the targets of earlier runs, so a long run can be split.
 * --max-seconds stops each target early (between batches); the report then says how many inputs ran.
 * Exits 1 if any target failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine } from './harness.ts';
import { FUZZ_TARGETS, fuzzTarget, loadCorpus } from '../tests/fuzz/targets.ts';
import { fuzz, type FuzzTally } from '../tests/fuzz/harness.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const iterations = Number(arg('iterations', '1000000'));
const seed = Number(arg('seed', '20261128'));
const which = arg('target', 'all');
const batch = Number(arg('batch', '10000'));
const maxSeconds = Number(arg('max-seconds', 'Infinity'));
if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError(`--iterations must be a positive integer (got ${arg('iterations', '')})`);
if (!Number.isSafeInteger(seed)) throw new RangeError('--seed must be an integer');
const targets = which === 'all' ? FUZZ_TARGETS : which.split(',').map(fuzzTarget);

const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results', 'fuzz.json');
type Row = Omit<FuzzTally, 'slowestMs'> & { slowestInputMs: number; seconds: number; inputsPerSecond: number; heapHighWaterMiB: number; date: string; stoppedEarly?: boolean };
/** The targets of earlier runs, read again before each write so that runs split by target merge. */
function previousRows(): Record<string, Row> {
  try {
    return (JSON.parse(fs.readFileSync(out, 'utf8')) as { targets: Record<string, Row> }).targets ?? {};
  } catch {
    return {};
  }
}

let anyFailed = false;
for (const target of targets) {
  const corpus = loadCorpus(target.name);
  const t0 = performance.now();
  let heapHigh = process.memoryUsage().heapUsed;
  const total: Row = { target: target.name, seed, inputs: 0, failures: 0, examples: [], slowestInputMs: 0, maxInputBytes: 0, seconds: 0, inputsPerSecond: 0, heapHighWaterMiB: 0, date: new Date().toISOString() };
  // Batches with derived seeds: bounded memory per batch, and progress on stderr.
  for (let done = 0, b = 0; done < iterations && performance.now() - t0 < maxSeconds * 1000; b++) {
    const n = Math.min(batch, iterations - done);
    const t = fuzz(target, seed + b * 7919, n, { corpus: b === 0 ? corpus : corpus.slice().reverse(), timeInputs: true });
    total.inputs += t.inputs;
    total.failures += t.failures;
    total.maxInputBytes = Math.max(total.maxInputBytes, t.maxInputBytes);
    total.slowestInputMs = Math.max(total.slowestInputMs, t.slowestMs);
    for (const e of t.examples) if (total.examples.length < 5) total.examples.push({ ...e, problem: `${e.problem} (batch seed ${seed + b * 7919})` });
    heapHigh = Math.max(heapHigh, process.memoryUsage().heapUsed);
    done += n;
    if (b % 10 === 9) process.stderr.write(`${target.name}: ${done} inputs, ${total.failures} failures\n`);
  }
  total.stoppedEarly = total.inputs < iterations;
  total.seconds = Math.round((performance.now() - t0) / 10) / 100;
  total.inputsPerSecond = Math.round(total.inputs / total.seconds);
  total.heapHighWaterMiB = Math.round((heapHigh / 2 ** 20) * 10) / 10;
  total.slowestInputMs = Math.round(total.slowestInputMs * 100) / 100;
  const previous = previousRows();
  previous[target.name] = total;
  anyFailed ||= total.failures > 0;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    JSON.stringify(
      {
        machine: describeMachine(),
        command: 'npx tsx bench/fuzz.ts --iterations N --target all|name[,name] [--seed S]',
        notes: 'Each target: the corpus first, then a quarter random bytes and three quarters stacked mutations of corpus samples (tests/fuzz/mutate.ts). A failure is an undocumented throw, a refusal without a message, or output not bounded by the input (tests/fuzz/targets.ts).',
        targets: previous,
      },
      null,
      2,
    ) + '\n',
  );
  process.stdout.write(`${target.name}: ${total.inputs} inputs, ${total.failures} failures, ${total.inputsPerSecond}/s, slowest ${total.slowestInputMs} ms, heap <= ${total.heapHighWaterMiB} MiB\n`);
}
if (anyFailed) process.exitCode = 1;
