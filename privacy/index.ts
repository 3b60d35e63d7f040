/**
 * fedwear's privacy engine: accountants, noise calibration, Opacus-equivalent DP-SGD, secure noise
 * and sampling. See privacy/README.md.
 */
export type { Accountant, AccountantName, EpsilonReport, MechanismStep, PerSampleGradientSource } from './types.ts';

// Accounting
export { DEFAULT_ALPHAS, clearRdpCache, composeRdp, computeRdp, createRdpAccountant, rdpAccountant, rdpEpsilon, rdpToEpsilon, type RdpConversion } from './rdp.ts';
export { MAX_SIGMA, calibrateNoiseMultiplier, getNoiseMultiplier, type NoiseMultiplierRequest, type NoiseMultiplierResult } from './calibrate.ts';
export { opacusSampleRate, type OpacusSampleRate } from './sample-rate.ts';
export { loadAccountant } from './accountant-registry.ts';

// Randomness and noise
export { createSecureRandom, randomBigIntBelow, randomIntBelow, seededRandomForTests, type RandomSource } from './secure-random.ts';
export { StandardNormalStream, createDiscreteGaussianNoise, createGaussianNoise, type GaussianNoise, type NoiseKind } from './gaussian-noise.ts';
export { bernoulliExpMinus, discreteGaussianSampler, sampleDiscreteLaplace, type IntegerSampler } from './discrete-gaussian.ts';
export { poissonBatches, poissonSample } from './poisson-sampling.ts';

// DP-SGD
export { CLIP_EPSILON, flatClipFactors, perLayerClipFactors, perLayerSensitivity } from './clipping.ts';
export {
  checkDpSgdConfig,
  dpSgdStep,
  type ClippingMode,
  type DpSgdConfig,
  type DpSgdDiagnostics,
  type DpSgdStepOptions,
  type DpSgdStepResult,
  type LossReduction,
} from './dp-sgd.ts';
export { DpSgdOptimizer, adam, proximalTerm, sgd, type DpSgdOptimizerOptions, type Params, type UpdateRule } from './dp-optimizer.ts';
export { MaterializedGradientSource } from './materialized-source.ts';

// Numerics (exported for the other accountants and for tests)
export { erf, erfc, erfcx, logErfc, logGamma, logNdtr, ndtr } from './special-functions.ts';
export { logAdd, logSub } from './log-space.ts';

// Budgets and the privacy ledger (privacy/ledger/, budget.ts)
export * from './ledger/index.ts';
export { PrivacyBudget, createBudget, type BudgetConfig, type NoisePlan, type NoisePlanRequest, type SpendDecision, type SpendPlan } from './budget.ts';
export { afterHistory, calibrateNoiseAfterHistory, type CalibrationRequest } from './budget-calibrate.ts';

// Empirical privacy audit (privacy/audit/)
export * from './audit/index.ts';
