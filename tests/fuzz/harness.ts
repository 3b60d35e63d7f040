/** Runs a target over generated inputs and tallies the outcome; shared by the tests and bench/fuzz.ts. */
import { type FuzzTarget, loadCorpus } from './targets.ts';
import { fuzzRandom, generateInput } from './mutate.ts';

export interface FuzzFailure {
  iteration: number;
  /** Hex of the input (cut at 256 bytes). */
  inputHex: string;
  problem: string;
}

export interface FuzzTally {
  target: string;
  seed: number;
  inputs: number;
  failures: number;
  /** The first few failures, replayable from (seed, iteration). */
  examples: FuzzFailure[];
  /** The slowest single input, ms (a hang would show here; the tests assert on counts, not time). */
  slowestMs: number;
  maxInputBytes: number;
}

export function fuzz(target: FuzzTarget, seed: number, iterations: number, opts: { corpus?: Uint8Array[]; timeInputs?: boolean } = {}): FuzzTally {
  const corpus = opts.corpus ?? loadCorpus(target.name);
  const rng = fuzzRandom(seed);
  const tally: FuzzTally = { target: target.name, seed, inputs: 0, failures: 0, examples: [], slowestMs: 0, maxInputBytes: 0 };
  // The corpus itself goes first: valid samples must pass.
  const inputs = (i: number) => (i < corpus.length ? corpus[i] : generateInput(rng, corpus, target.maxInputBytes));
  for (let i = 0; i < iterations; i++) {
    const input = inputs(i);
    const t0 = opts.timeInputs ? performance.now() : 0;
    const problem = target.run(input);
    if (opts.timeInputs) tally.slowestMs = Math.max(tally.slowestMs, performance.now() - t0);
    tally.inputs++;
    if (input.length > tally.maxInputBytes) tally.maxInputBytes = input.length;
    if (problem !== undefined) {
      tally.failures++;
      if (tally.examples.length < 5) tally.examples.push({ iteration: i, inputHex: Buffer.from(input.subarray(0, 256)).toString('hex'), problem });
    }
  }
  return tally;
}
