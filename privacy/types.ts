/**
 * The contracts of the privacy engine. The engine never imports a model: anything that can give
 * per-sample gradient norms and weighted gradient sums can be trained privately (Opacus's
 * GradSampleModule plays this role there).
 */

/** One run-length entry of an accountant's history, as in Opacus: (noise_multiplier, sample_rate, num_steps). */
export interface MechanismStep {
  noiseMultiplier: number;
  sampleRate: number;
  steps: number;
}

export type AccountantName = 'rdp' | 'prv';

/** Every epsilon the engine reports says which accountant produced it. */
export interface EpsilonReport {
  epsilon: number;
  delta: number;
  accountant: AccountantName;
  /** RDP only: the order (alpha) at which the bound was tightest. */
  order?: number;
  /** PRV only: the point estimate and lower bound around the returned upper bound. */
  estimate?: number;
  lower?: number;
}

/** An accountant is a pure function of the history (Opacus keeps the history in the object instead). */
export interface Accountant {
  readonly name: AccountantName;
  epsilon(history: readonly MechanismStep[], delta: number): EpsilonReport;
}

/**
 * What DP-SGD needs from a model, for a batch given as example indices.
 * Two passes, so per-sample gradients never have to be materialised (Goodfellow 2015; ghost clipping,
 * Li et al. 2021): first the per-sample norms, then one weighted sum with the clip factors as weights.
 */
export interface PerSampleGradientSource {
  /** Number of examples the source can sample from (N in q = B/N). */
  readonly numExamples: number;
  /** Total number of trainable parameters (length of the gradient vector). */
  readonly paramCount: number;
  /** Sizes of the parameter tensors in gradient-vector order (for per-layer clipping). */
  readonly tensorSizes: readonly number[];
  /**
   * Runs forward and backward for `indices` (ascending), keeps what the second pass needs, and
   * writes each sample's gradient L2 norm over all parameters into normsOut[0..B). If
   * perTensorNormsOut is given, writes norms per tensor too, row-major [B][tensorSizes.length].
   * The per-sample gradient is that of the sample's own loss (Opacus loss_reduction="mean" semantics).
   */
  perSampleNorms(indices: Int32Array, normsOut: Float64Array, perTensorNormsOut?: Float64Array): void;
  /**
   * Adds sum_i weights[i] * g_i into out (length paramCount) for the batch of the last
   * perSampleNorms call. With perTensorWeights (row-major [B][tensors]) each tensor gets its own weight.
   */
  addWeightedGradientSum(weights: Float64Array, out: Float64Array, perTensorWeights?: Float64Array): void;
}
