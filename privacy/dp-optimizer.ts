/**
 * An Opacus-style DP optimizer: a plain update rule (SGD, Adam) behind a DP-SGD step. Like
 * Opacus's DPOptimizer it owns clipping, noise and scaling; unlike it, every privacy parameter is
 * passed in explicitly, the step hook runs *before* the parameters change (so a ledger entry can be
 * made durable first, and a refused spend leaves the model untouched), and insecure randomness is
 * refused unless asked for.
 */
import type { MechanismStep, PerSampleGradientSource } from './types.ts';
import type { GaussianNoise } from './gaussian-noise.ts';
import type { RandomSource } from './secure-random.ts';
import { checkDpSgdConfig, dpSgdStep, type DpSgdConfig, type DpSgdStepResult } from './dp-sgd.ts';

export type Params = Float64Array | Float32Array;

/** A data-independent update rule applied to the privatised gradient (post-processing, so any rule is fine). */
export interface UpdateRule {
  apply(params: Params, gradient: Float64Array): void;
}

/**
 * torch.optim.SGD semantics: d = g + weightDecay p; with momentum, buf = d on the first step, then
 * buf = momentum buf + (1 - dampening) d, and d = nesterov ? d + momentum buf : buf; p -= lr d.
 * Weight decay here acts on the privatised gradient, i.e. after the noise, as in Opacus.
 */
export function sgd(opts: { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean }): UpdateRule {
  const { lr } = opts;
  const momentum = opts.momentum ?? 0;
  const dampening = opts.dampening ?? 0;
  const weightDecay = opts.weightDecay ?? 0;
  const nesterov = opts.nesterov ?? false;
  if (!(lr > 0) || !Number.isFinite(lr)) throw new RangeError(`lr must be finite and > 0 (got ${lr})`);
  if (!(momentum >= 0 && momentum < 1)) throw new RangeError(`momentum must be in [0, 1) (got ${momentum})`);
  if (!(dampening >= 0 && dampening <= 1)) throw new RangeError(`dampening must be in [0, 1] (got ${dampening})`);
  if (!(weightDecay >= 0) || !Number.isFinite(weightDecay)) throw new RangeError(`weightDecay must be finite and >= 0 (got ${weightDecay})`);
  if (nesterov && (momentum === 0 || dampening !== 0)) throw new RangeError('nesterov needs momentum > 0 and dampening 0');
  let buf: Float64Array | undefined;
  return {
    apply(params, gradient) {
      checkLengths(params, gradient);
      const first = buf === undefined;
      if (momentum !== 0 && buf === undefined) buf = new Float64Array(params.length);
      for (let i = 0; i < params.length; i++) {
        let d = gradient[i];
        if (weightDecay !== 0) d += weightDecay * params[i];
        if (buf) {
          buf[i] = first ? d : momentum * buf[i] + (1 - dampening) * d;
          d = nesterov ? d + momentum * buf[i] : buf[i];
        }
        params[i] -= lr * d;
      }
    },
  };
}

/**
 * torch.optim.Adam semantics (L2 weight decay added to the gradient, bias corrections as torch):
 * p -= (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
 */
export function adam(opts: { lr: number; betas?: readonly [number, number]; eps?: number; weightDecay?: number }): UpdateRule {
  const { lr } = opts;
  const [beta1, beta2] = opts.betas ?? [0.9, 0.999];
  const eps = opts.eps ?? 1e-8;
  const weightDecay = opts.weightDecay ?? 0;
  if (!(lr > 0) || !Number.isFinite(lr)) throw new RangeError(`lr must be finite and > 0 (got ${lr})`);
  if (!(beta1 >= 0 && beta1 < 1)) throw new RangeError(`betas[0] must be in [0, 1) (got ${beta1})`);
  if (!(beta2 >= 0 && beta2 < 1)) throw new RangeError(`betas[1] must be in [0, 1) (got ${beta2})`);
  if (!(eps > 0)) throw new RangeError(`eps must be > 0 (got ${eps})`);
  if (!(weightDecay >= 0) || !Number.isFinite(weightDecay)) throw new RangeError(`weightDecay must be finite and >= 0 (got ${weightDecay})`);
  let m: Float64Array | undefined;
  let v: Float64Array | undefined;
  let t = 0;
  return {
    apply(params, gradient) {
      checkLengths(params, gradient);
      if (!m || !v) {
        m = new Float64Array(params.length);
        v = new Float64Array(params.length);
      }
      t++;
      const bc1 = 1 - beta1 ** t;
      const sqrtBc2 = Math.sqrt(1 - beta2 ** t);
      const stepSize = lr / bc1;
      for (let i = 0; i < params.length; i++) {
        let g = gradient[i];
        if (weightDecay !== 0) g += weightDecay * params[i];
        m[i] = beta1 * m[i] + (1 - beta1) * g;
        v[i] = beta2 * v[i] + (1 - beta2) * g * g;
        params[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / sqrtBc2 + eps);
      }
    },
  };
}

function checkLengths(params: Params, gradient: Float64Array): void {
  if (params.length !== gradient.length) throw new RangeError(`params (${params.length}) and gradient (${gradient.length}) differ in length`);
}

/** FedProx's proximal term mu (w - w0) (Li et al. 2020, arXiv 1812.06127): data-independent, added after the noise. */
export function proximalTerm(mu: number, anchor: ArrayLike<number>): (gradient: Float64Array, params: Params) => void {
  if (!(mu >= 0) || !Number.isFinite(mu)) throw new RangeError(`mu must be finite and >= 0 (got ${mu})`);
  const w0 = Float64Array.from(anchor);
  return (gradient, params) => {
    if (gradient.length !== w0.length || params.length !== w0.length) throw new RangeError(`anchor has length ${w0.length}, gradient ${gradient.length}, params ${params.length}`);
    for (let i = 0; i < gradient.length; i++) gradient[i] += mu * (params[i] - w0[i]);
  };
}

export interface DpSgdOptimizerOptions {
  config: DpSgdConfig;
  update: UpdateRule;
  noise: GaussianNoise;
  /** Randomness for Poisson sampling (the CSPRNG in production). */
  random?: RandomSource;
  /**
   * Runs after the noisy gradient exists and before the parameters change, with the step's
   * accounting entry: write the ledger entry here; throw (or reject) to refuse the step.
   */
  beforeUpdate?: (entry: MechanismStep) => void | Promise<void>;
  /** Data-independent terms added to the privatised gradient, e.g. proximalTerm(mu, w0). */
  dataIndependentTerms?: (gradient: Float64Array, params: Params) => void;
  /** Accept a non-cryptographic random source or 'plain' noise (tests and benchmarks only). */
  allowInsecureRandomness?: boolean;
}

export class DpSgdOptimizer {
  readonly params: Params;
  readonly config: Readonly<DpSgdConfig>;
  private readonly opts: DpSgdOptimizerOptions;
  private stepsTaken = 0;

  constructor(params: Params, opts: DpSgdOptimizerOptions) {
    checkDpSgdConfig(opts.config);
    const insecure = !opts.noise.cryptographicallySecure || (opts.random !== undefined && !opts.random.cryptographicallySecure);
    if (insecure && !opts.allowInsecureRandomness) {
      throw new RangeError('noise/random: not cryptographically secure (use createSecureRandom and secure or discrete noise, or set allowInsecureRandomness for tests)');
    }
    this.params = params;
    this.config = Object.freeze({ ...opts.config });
    this.opts = opts;
  }

  get steps(): number {
    return this.stepsTaken;
  }

  private privatise(source: PerSampleGradientSource, batch?: Int32Array): DpSgdStepResult {
    if (source.paramCount !== this.params.length) throw new RangeError(`source.paramCount (${source.paramCount}) differs from params length (${this.params.length})`);
    const terms = this.opts.dataIndependentTerms;
    return dpSgdStep(source, this.config, {
      noise: this.opts.noise,
      random: this.opts.random,
      batch,
      dataIndependentTerms: terms ? (g) => terms(g, this.params) : undefined,
    });
  }

  private commit(result: DpSgdStepResult): void {
    this.opts.update.apply(this.params, result.gradient);
    this.stepsTaken++;
  }

  /** One private step with a synchronous hook. Returns the step result (its gradient is already applied). */
  step(source: PerSampleGradientSource, batch?: Int32Array): DpSgdStepResult {
    const result = this.privatise(source, batch);
    const pending = this.opts.beforeUpdate?.(result.accounting);
    if (pending instanceof Promise) throw new TypeError('beforeUpdate returned a promise: use stepAsync');
    this.commit(result);
    return result;
  }

  /** Same as step, awaiting an asynchronous beforeUpdate (e.g. an fsync'd ledger write) before the update. */
  async stepAsync(source: PerSampleGradientSource, batch?: Int32Array): Promise<DpSgdStepResult> {
    const result = this.privatise(source, batch);
    await this.opts.beforeUpdate?.(result.accounting);
    this.commit(result);
    return result;
  }
}
