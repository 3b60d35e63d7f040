/**
 * What Opacus v1.4.0 `PrivacyEngine.make_private(poisson_sampling=True)` does to a
 * DataLoader(dataset of N, batch_size=B): shared/notes/opacus.md §1.1 and §1.2,
 * shared/vectors/opacus-sample-rate-quirk.json.
 */

export interface OpacusSampleRate {
  /** len(original DataLoader): ceil(N/B), or floor(N/B) with drop_last. */
  originalLoaderLength: number;
  /** Sample rate the DPDataLoader samples with: 1 / len(original loader) (opacus/data_loader.py `from_data_loader`). */
  loaderSampleRate: number;
  /** Batches per epoch of the DPDataLoader: int(1 / loaderSampleRate) (UniformWithReplacementSampler.__len__). */
  stepsPerEpoch: number;
  /** Sample rate the accountant is charged: 1 / len(DPDataLoader) (make_private recomputes it). */
  accountantSampleRate: number;
  /** make_private's expected_batch_size = int(N * accountantSampleRate) (truncation). */
  expectedBatchSize: number;
  /** True when int(1/(1/n)) != n in floating point, so the epoch has n-1 steps and q is charged as 1/(n-1). */
  quirk: boolean;
}

export function opacusSampleRate(numExamples: number, batchSize: number, opts: { dropLast?: boolean } = {}): OpacusSampleRate {
  if (!Number.isSafeInteger(numExamples) || numExamples < 1) throw new RangeError(`numExamples must be a positive integer (got ${numExamples})`);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer (got ${batchSize})`);
  const originalLoaderLength = opts.dropLast ? Math.floor(numExamples / batchSize) : Math.ceil(numExamples / batchSize);
  if (originalLoaderLength < 1) throw new RangeError(`batchSize (${batchSize}) exceeds numExamples (${numExamples}) with dropLast: the loader is empty`);
  const loaderSampleRate = 1 / originalLoaderLength;
  const stepsPerEpoch = Math.trunc(1 / loaderSampleRate);
  const accountantSampleRate = 1 / stepsPerEpoch;
  return {
    originalLoaderLength,
    loaderSampleRate,
    stepsPerEpoch,
    accountantSampleRate,
    expectedBatchSize: Math.trunc(numExamples * accountantSampleRate),
    quirk: stepsPerEpoch !== originalLoaderLength,
  };
}
