/** Aggregation strategies: the Strategy contract, the strategies, and partial sums for sharding. */
export type { AggregateResult, ClientUpdate, DpRequirements, Metrics, NoState, RoundConfig, RoundContext, RoundPolicy, ShardableStrategy, Strategy } from './types.ts';
export { fedAvg, type FedAvgOptions } from './fedavg.ts';
export { fedAdam, type FedAdamOptions, type FedAdamState } from './fedadam.ts';
export { normBounding, type NormBoundingOptions } from './norm-bounding.ts';
export { coordinateMedian, type RobustOptions } from './median.ts';
export { trimmedMean, type TrimmedMeanOptions } from './trimmed-mean.ts';
export { inverseSqrtStaleness, type StalenessDiscount, type StalenessWeighting, type Weighting, type WeightingOptions } from './weighting.ts';
export { DEFAULT_SUM_BOUND, combine, mergePartials, partialSum, partialTotals, type PartialSum, type PartialSumOptions, type WeightedDelta } from './partial-sum.ts';
export { checkRoundPolicy, configureFromPolicy } from './round-policy.ts';
