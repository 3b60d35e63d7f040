/**
 * The training parameters the aggregator announces, chosen so that every user's epsilon after all
 * rounds stays within the budget. Each round is one DP-SGD run of `steps` steps at rate q and the
 * same sigma, so R rounds compose like one run of R·steps steps: sigma is calibrated once for that
 * (Opacus's get_noise_multiplier, which returns a sigma at or below the target), and a round past R
 * would go over the budget, so the gateways skip it themselves.
 */
import { getNoiseMultiplier, rdpAccountant } from '../privacy/index.ts';

export interface LocalTraining {
  sampleRate: number;
  steps: number;
  maxGradNorm: number;
  lr: number;
  mu: number;
  optimizer: 'sgd' | 'adam';
}

export interface TrainingPlan extends LocalTraining {
  noiseMultiplier: number;
  delta: number;
  /** The budget each gateway enforces. */
  epsilonMax: number;
  /** epsilon after all rounds, as every gateway's accountant will compute it. */
  epsilonAfterAllRounds: number;
  /** The update norm bound the aggregator enforces (and gateways clip to). */
  normBound: number;
  nonPrivate: boolean;
}

export const DEFAULT_LOCAL_TRAINING: LocalTraining = { sampleRate: 0.2, steps: 40, maxGradNorm: 1, lr: 0.05, mu: 0.1, optimizer: 'sgd' };

/**
 * The non-private comparison cannot use sigma 0 (the round schema, the ledger and the accountant
 * all require sigma > 0), so it uses sigma 1e-6: noise of std 1e-6·C on a batch sum, nothing in
 * practice. It keeps the clip norm C: with the same learning rate and no clipping, local SGD on
 * raw gradients diverged (measured: the federated model's MAE went from 0.33 to 1.1-1.4 kcal/min),
 * so dropping it would show the cost of an untuned optimizer, not of privacy. Its epsilon is
 * astronomical and reported as such; the budget is set just above R rounds of it so that the
 * gateways stop after R.
 */
const NON_PRIVATE_SIGMA = 1e-6;

export function planTraining(o: { rounds: number; epsilonBudget: number; delta: number; nonPrivate: boolean; local?: Partial<LocalTraining> }): TrainingPlan {
  const local = { ...DEFAULT_LOCAL_TRAINING, ...o.local };
  const totalSteps = o.rounds * local.steps;
  const epsilonOf = (sigma: number): number => rdpAccountant.epsilon([{ noiseMultiplier: sigma, sampleRate: local.sampleRate, steps: totalSteps }], o.delta).epsilon;
  if (o.nonPrivate) {
    const eps = epsilonOf(NON_PRIVATE_SIGMA);
    return { ...local, noiseMultiplier: NON_PRIVATE_SIGMA, delta: o.delta, epsilonMax: eps * (1 + 1e-6), epsilonAfterAllRounds: eps, normBound: 1000, nonPrivate: true };
  }
  const sigma = getNoiseMultiplier({ targetEpsilon: o.epsilonBudget, delta: o.delta, sampleRate: local.sampleRate, steps: totalSteps, accountant: rdpAccountant });
  const eps = epsilonOf(sigma);
  if (!(eps <= o.epsilonBudget)) throw new Error(`calibrated sigma ${sigma} gives epsilon ${eps} over the budget ${o.epsilonBudget}`);
  return { ...local, noiseMultiplier: sigma, delta: o.delta, epsilonMax: o.epsilonBudget, epsilonAfterAllRounds: eps, normBound: 10, nonPrivate: false };
}
