/**
 * A one-run white-box membership audit of dpSgdStep (Steinke, Nasr, Jagielski 2023, arXiv
 * 2305.08846, Algorithm 1 with gradient canaries as in their §6 and Nasr et al. 2021):
 *
 *   1. m canaries, each included in the training set independently with probability 1/2 (secret S);
 *      non-canary "background" examples are always in.
 *   2. T steps of the real dpSgdStep (Poisson sampling, clipping, secure-kind noise) over that set.
 *   3. Score of canary i: its coordinate of the sum of released gradients (the final model minus
 *      the initial one, up to the learning rate), i.e. the inner product with its own direction.
 *   4. Guess "in" for the k highest scores and "out" for the k lowest, abstain on the rest.
 *   5. v right guesses out of r = 2k give an epsilon lower bound at confidence 1 - beta
 *      (one-run-bound.ts).
 *
 * The lower bound holds with probability >= 1 - beta for any (eps, delta)-DP mechanism, so for a
 * correct implementation it stays below the accountant's epsilon; a variant that leaks (clipping
 * skipped, noise too small) drives it above. Broken variants exist only to prove the audit can see
 * a leak; they are reachable from nothing but this module.
 */
import type { Accountant, PerSampleGradientSource } from '../types.ts';
import { dpSgdStep, type DpSgdConfig } from '../dp-sgd.ts';
import { createGaussianNoise, type GaussianNoise } from '../gaussian-noise.ts';
import { seededRandomForTests } from '../secure-random.ts';
import { OneHotGradientSource } from './canary-source.ts';
import { oneRunEpsilonLowerBound } from './one-run-bound.ts';

/** 'correct' is dpSgdStep as shipped; the others are deliberate bugs for the audit to catch. */
export type AuditVariant = 'correct' | 'no-clipping' | 'noise-x0.1';

export interface CanaryAuditConfig {
  /** m: number of canaries. */
  canaries: number;
  /** Examples that are always in the training set (default m); their gradients share one coordinate. */
  background?: number;
  noiseMultiplier: number;
  sampleRate: number;
  steps: number;
  /** C (default 1). */
  maxGradNorm?: number;
  /** Canary gradient norm as a multiple of C (default 10): above C, so clipping is what bounds it. */
  canaryNormMultiple?: number;
  /** Fraction of the canaries guessed, half at each end of the ranking (default 0.2). */
  guessFraction?: number;
  delta: number;
  /** Test level: the bound holds with confidence 1 - beta (default 0.05). */
  beta?: number;
  seed: number;
  variant?: AuditVariant;
}

export interface CanaryAuditResult {
  variant: AuditVariant;
  canaries: number;
  /** r: guesses made (abstentions excluded). */
  guesses: number;
  /** v: right guesses. */
  correct: number;
  epsilonLowerBound: number;
  confidence: number;
  delta: number;
}

export interface PrivacyAuditReport {
  claimedEpsilon: number;
  accountant: string;
  delta: number;
  confidence: number;
  canaries: number;
  guesses: number;
  noiseMultiplier: number;
  sampleRate: number;
  steps: number;
  seed: number;
  correct: CanaryAuditResult;
  broken: CanaryAuditResult;
  /** The audit's verdicts: the correct implementation stays at or under its claim, the broken one does not. */
  correctWithinClaim: boolean;
  brokenDetected: boolean;
}

function checkConfig(c: CanaryAuditConfig): void {
  if (!Number.isSafeInteger(c.canaries) || c.canaries < 2) throw new RangeError(`canaries must be an integer >= 2 (got ${c.canaries})`);
  if (c.background !== undefined && (!Number.isSafeInteger(c.background) || c.background < 0)) throw new RangeError(`background must be a non-negative integer (got ${c.background})`);
  if (!Number.isSafeInteger(c.steps) || c.steps < 1) throw new RangeError(`steps must be a positive integer (got ${c.steps})`);
  if (!Number.isSafeInteger(c.seed)) throw new RangeError(`seed must be an integer (got ${c.seed})`);
  const f = c.guessFraction ?? 0.2;
  if (!(f > 0 && f <= 1)) throw new RangeError(`guessFraction must be in (0, 1] (got ${f})`);
  const k = c.canaryNormMultiple ?? 10;
  if (!(k > 0) || !Number.isFinite(k)) throw new RangeError(`canaryNormMultiple must be finite and > 0 (got ${k})`);
}

/** Reports every norm as 0, so every clip factor is 1: a norm pass that lost its data (bug). */
function withoutClipping(source: PerSampleGradientSource): PerSampleGradientSource {
  return {
    numExamples: source.numExamples,
    paramCount: source.paramCount,
    tensorSizes: source.tensorSizes,
    perSampleNorms(indices, normsOut, perTensorNormsOut) {
      source.perSampleNorms(indices, normsOut, perTensorNormsOut);
      normsOut.fill(0, 0, indices.length);
      perTensorNormsOut?.fill(0);
    },
    addWeightedGradientSum: (w, out, pt) => source.addWeightedGradientSum(w, out, pt),
  };
}

/** Noise whose std is a tenth of the calibrated one (e.g. a units bug between sigma and sigma*C). */
function scaledNoise(noise: GaussianNoise, factor: number): GaussianNoise {
  return {
    kind: noise.kind,
    cryptographicallySecure: noise.cryptographicallySecure,
    stdFor: (sigma, sensitivity, dim) => factor * noise.stdFor(sigma, sensitivity, dim),
    addTo: (out, std) => noise.addTo(out, std),
  };
}

/** Runs one audit (one training run) and returns its epsilon lower bound. Deterministic in `seed`. */
export function runCanaryAudit(config: CanaryAuditConfig): CanaryAuditResult {
  checkConfig(config);
  const variant = config.variant ?? 'correct';
  const m = config.canaries;
  const background = config.background ?? m;
  const C = config.maxGradNorm ?? 1;
  const beta = config.beta ?? 0.05;
  const canaryNorm = (config.canaryNormMultiple ?? 10) * C;

  // Membership and training draw from separate streams, so every variant sees the same secret S.
  const membershipRandom = seededRandomForTests(config.seed);
  const trainingRandom = seededRandomForTests(config.seed ^ 0x5bd1e995);
  const included = new Uint8Array(m);
  const coords: number[] = [];
  for (let i = 0; i < m; i++) {
    included[i] = membershipRandom.nextDouble() < 0.5 ? 1 : 0;
    if (included[i]) coords.push(i);
  }
  for (let j = 0; j < background; j++) coords.push(m);
  const magnitudes = new Float64Array(coords.length).fill(canaryNorm);
  let source: PerSampleGradientSource = new OneHotGradientSource(Int32Array.from(coords), magnitudes, m + 1);
  if (variant === 'no-clipping') source = withoutClipping(source);

  const baseNoise = createGaussianNoise(trainingRandom, { kind: 'secure' });
  const noise = variant === 'noise-x0.1' ? scaledNoise(baseNoise, 0.1) : baseNoise;
  const step: DpSgdConfig = {
    noiseMultiplier: config.noiseMultiplier,
    maxGradNorm: C,
    sampleRate: config.sampleRate,
    // Data-independent (the expected, not the actual, set size); unused with 'sum' anyway.
    expectedBatchSize: Math.max(1, Math.floor(config.sampleRate * (m / 2 + background))),
    lossReduction: 'sum',
  };
  const scores = new Float64Array(m);
  for (let t = 0; t < config.steps; t++) {
    const { gradient } = dpSgdStep(source, step, { noise, random: trainingRandom });
    for (let i = 0; i < m; i++) scores[i] += gradient[i];
  }

  const k = Math.max(1, Math.floor(((config.guessFraction ?? 0.2) * m) / 2));
  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  let correct = 0;
  for (let j = 0; j < k; j++) if (included[order[j]]) correct++;
  for (let j = m - k; j < m; j++) if (!included[order[j]]) correct++;
  const guesses = 2 * k;
  return {
    variant,
    canaries: m,
    guesses,
    correct,
    epsilonLowerBound: oneRunEpsilonLowerBound(m, guesses, correct, config.delta, beta),
    confidence: 1 - beta,
    delta: config.delta,
  };
}

export interface PrivacyAuditOptions extends Omit<CanaryAuditConfig, 'variant'> {
  accountant: Accountant;
  /** The deliberately broken variant to show the audit detects (default 'noise-x0.1'). */
  brokenVariant?: Exclude<AuditVariant, 'correct'>;
}

/** The claim (accountant epsilon for the run's sigma, q, T at delta) against both audits. */
export function runPrivacyAudit(opts: PrivacyAuditOptions): PrivacyAuditReport {
  const { accountant, brokenVariant = 'noise-x0.1', ...config } = opts;
  const claim = accountant.epsilon([{ noiseMultiplier: config.noiseMultiplier, sampleRate: config.sampleRate, steps: config.steps }], config.delta);
  const correct = runCanaryAudit({ ...config, variant: 'correct' });
  const broken = runCanaryAudit({ ...config, variant: brokenVariant });
  return {
    claimedEpsilon: claim.epsilon,
    accountant: claim.accountant,
    delta: config.delta,
    confidence: correct.confidence,
    canaries: config.canaries,
    guesses: correct.guesses,
    noiseMultiplier: config.noiseMultiplier,
    sampleRate: config.sampleRate,
    steps: config.steps,
    seed: config.seed,
    correct,
    broken,
    correctWithinClaim: correct.epsilonLowerBound <= claim.epsilon,
    brokenDetected: broken.epsilonLowerBound > claim.epsilon,
  };
}
