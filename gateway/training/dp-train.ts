/**
 * The DP-SGD loop of one round: `steps` Poisson-sampled steps of Opacus-equivalent DP-SGD over all
 * trainable parameters at once (privacy/dp-optimizer.ts). Pure apart from yielding to the event
 * loop, so ingest keeps running on the same gateway while a round trains.
 */
import { DpSgdOptimizer, adam, sgd, type DpSgdConfig, type GaussianNoise, type Params, type PerSampleGradientSource, type RandomSource, type UpdateRule } from '../../privacy/index.ts';
import type { RoundTrainingParameters } from './round-params.ts';

export interface DpTrainingRun {
  /** Trained in place. */
  params: Params;
  source: PerSampleGradientSource;
  config: DpSgdConfig;
  steps: number;
  update: UpdateRule;
  noise: GaussianNoise;
  random: RandomSource;
  dataIndependentTerms?: (gradient: Float64Array, params: Params) => void;
  allowInsecureRandomness?: boolean;
  /** Called with (steps done, total) after each step: data-independent by construction. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Return an exponential moving average of the iterates instead of the last one (0 or absent:
   * the last iterate). Each DP-SGD iterate is already covered by the accountant, so any function
   * of them is post-processing and costs no privacy; the average damps the last steps' noise.
   */
  emaDecay?: number;
}

export interface DpTrainingOutcome {
  /** Sum of the actual Poisson batch sizes: raw-data dependent, local only. */
  examplesVisited: number;
}

/** Steps between yields to the event loop: a yield costs microseconds, a step ~0.1 ms at this size. */
const YIELD_EVERY = 8;

export function updateRuleFor(round: RoundTrainingParameters): UpdateRule {
  return (round.optimizer ?? 'sgd') === 'adam' ? adam({ lr: round.lr }) : sgd({ lr: round.lr, momentum: round.momentum ?? 0 });
}

export async function runDpSgd(run: DpTrainingRun): Promise<DpTrainingOutcome> {
  // One optimizer over every parameter: one flat clip over the whole per-sample gradient and one
  // noise draw per coordinate, as Opacus's DPOptimizer does for a single param group (opacus.md §1.4).
  const optimizer = new DpSgdOptimizer(run.params, {
    config: run.config,
    update: run.update,
    noise: run.noise,
    random: run.random,
    dataIndependentTerms: run.dataIndependentTerms,
    allowInsecureRandomness: run.allowInsecureRandomness,
  });
  const decay = run.emaDecay ?? 0;
  if (!(decay >= 0 && decay < 1)) throw new RangeError(`emaDecay must be in [0, 1), got ${decay}`);
  const ema = decay > 0 ? Float64Array.from(run.params) : null;
  let examplesVisited = 0;
  for (let s = 0; s < run.steps; s++) {
    examplesVisited += optimizer.step(run.source).batchSize;
    if (ema) {
      // De et al. 2022 ("Unlocking high-accuracy differentially private image classification
      // through scale", §3.3 and App. C): EMA with the warm-up decay min(d, (1+t)/(10+t)).
      const d = Math.min(decay, (1 + s) / (10 + s));
      for (let i = 0; i < ema.length; i++) ema[i] = d * ema[i] + (1 - d) * run.params[i];
    }
    run.onProgress?.(s + 1, run.steps);
    if ((s + 1) % YIELD_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (ema) run.params.set(ema);
  return { examplesVisited };
}
