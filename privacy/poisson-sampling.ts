/**
 * Poisson sampling as Opacus's UniformWithReplacementSampler (opacus/utils/uniform_sampler.py,
 * shared/notes/opacus.md §1.2): every example joins the batch independently with probability q
 * (`torch.rand(N) < q`), indices in ascending order, empty batches allowed. The subsampling
 * amplification in the accountant assumes exactly this, so the randomness must come from the CSPRNG.
 */
import type { RandomSource } from './secure-random.ts';

function checkArgs(numExamples: number, sampleRate: number): void {
  if (!Number.isSafeInteger(numExamples) || numExamples < 0 || numExamples > 0x7fffffff) {
    throw new RangeError(`numExamples must be an integer in [0, 2^31) (got ${numExamples})`);
  }
  if (!(sampleRate >= 0 && sampleRate <= 1)) throw new RangeError(`sampleRate must be in [0, 1] (got ${sampleRate})`);
}

/** One Poisson batch: the ascending indices i in [0, numExamples) for which u_i < sampleRate. */
export function poissonSample(numExamples: number, sampleRate: number, random: RandomSource): Int32Array {
  checkArgs(numExamples, sampleRate);
  const picked: number[] = [];
  for (let i = 0; i < numExamples; i++) {
    if (random.nextDouble() < sampleRate) picked.push(i);
  }
  return Int32Array.from(picked);
}

/**
 * The batches of one Opacus "epoch": int(1 / sampleRate) Poisson batches unless `steps` is given
 * (UniformWithReplacementSampler.__len__ / `steps` argument).
 */
export function* poissonBatches(numExamples: number, sampleRate: number, random: RandomSource, steps?: number): Generator<Int32Array> {
  checkArgs(numExamples, sampleRate);
  if (steps === undefined && !(sampleRate > 0)) throw new RangeError('sampleRate must be > 0 when steps is not given');
  const n = steps ?? Math.trunc(1 / sampleRate);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`steps must be a non-negative integer (got ${steps})`);
  for (let s = 0; s < n; s++) yield poissonSample(numExamples, sampleRate, random);
}
