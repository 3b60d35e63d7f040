import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';

/** What every results file says about the machine it was measured on. */
export function describeMachine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    logicalCpus: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    date: new Date().toISOString(),
  };
}

export interface Measurement {
  name: string;
  /** Median over runs of the rate, in `unit`. */
  median: number;
  unit: string;
  runs: number[];
  /** ratio: > 1 when fedwear is faster or smaller than the reference (rate / reference rate, reference time / time, reference bytes / bytes). */
  reference?: { name: string; value: number; unit: string; ratio: number };
  extra?: Record<string, unknown>;
}

/**
 * Runs `fn` (which does `work` units per call) for about `seconds` per run, `runs` times after one
 * warm-up run, and returns the median rate in units per second.
 */
export function measureRate(fn: () => void, work: number, opts: { runs?: number; seconds?: number } = {}): { median: number; runs: number[] } {
  const runs = opts.runs ?? 7;
  const seconds = opts.seconds ?? 0.5;
  const once = (): number => {
    let calls = 0;
    const start = process.hrtime.bigint();
    const limit = BigInt(Math.round(seconds * 1e9));
    let elapsed = 0n;
    do {
      fn();
      calls++;
      elapsed = process.hrtime.bigint() - start;
    } while (elapsed < limit);
    return (calls * work) / (Number(elapsed) / 1e9);
  };
  once(); // warm-up: lets V8 optimise before anything is measured
  const rates: number[] = [];
  for (let i = 0; i < runs; i++) rates.push(once());
  return { median: median(rates), runs: rates };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Writes bench/results/<name>.json with the machine described. */
export function writeResults(name: string, measurements: Measurement[], notes?: string): string {
  const dir = path.join(import.meta.dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ name, machine: describeMachine(), notes, measurements }, null, 2) + '\n');
  return file;
}
