/**
 * Norm bounding (Sun et al. 2019, "Can you really backdoor federated learning?", arXiv:1911.07963,
 * §4): every update is scaled to L2 norm ≤ M, then averaged as in FedAvg. A backdoor needs a large
 * update to survive averaging; bounded, its influence is at most M/n. Clipping is per update, so the
 * average is still one sum and shards exactly.
 */
import { fedAvg, type FedAvgOptions } from './fedavg.ts';
import type { NoState, ShardableStrategy } from './types.ts';

export interface NormBoundingOptions extends Omit<FedAvgOptions, 'clipNorm' | 'name'> {
  /** M. */
  readonly maxNorm: number;
}

export function normBounding(opts: NormBoundingOptions): ShardableStrategy<NoState> {
  if (!(opts.maxNorm > 0 && Number.isFinite(opts.maxNorm))) throw new RangeError(`norm-bounding: maxNorm must be positive and finite (got ${opts.maxNorm})`);
  return fedAvg({ ...opts, clipNorm: opts.maxNorm, name: 'norm-bounding' });
}
