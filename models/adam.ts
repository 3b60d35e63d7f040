/**
 * Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", arXiv:1412.6980, Algorithm 1,
 * in torch.optim.Adam's arrangement of the bias corrections):
 *   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²,
 *   θ ← θ − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε).
 * With weightDecay > 0 the decay is decoupled from the gradient (AdamW: Loshchilov & Hutter 2019,
 * arXiv:1711.05101), θ ← θ − lr·λ·θ before the Adam step, as torch.optim.AdamW does.
 * Moments in float64; the parameters are updated in place (a Float32Array view of model.params).
 * For non-private training only: DP-SGD's update rules live in privacy/.
 */
import type { Floats } from './mlp.ts';

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay λ (default 0). */
  weightDecay?: number;
}

export class Adam {
  readonly m: Float64Array;
  readonly v: Float64Array;
  /** Steps taken. */
  t = 0;
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;

  constructor(readonly size: number, opts: AdamOptions) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`Adam: size must be a positive integer, got ${size}`);
    if (!(opts.lr > 0) || !Number.isFinite(opts.lr)) throw new RangeError(`Adam: lr must be finite and > 0, got ${opts.lr}`);
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    if (!(this.weightDecay >= 0) || !Number.isFinite(this.weightDecay)) throw new RangeError(`Adam: weightDecay must be finite and >= 0, got ${this.weightDecay}`);
    if (!(this.beta1 >= 0 && this.beta1 < 1)) throw new RangeError(`Adam: beta1 must be in [0, 1), got ${this.beta1}`);
    if (!(this.beta2 >= 0 && this.beta2 < 1)) throw new RangeError(`Adam: beta2 must be in [0, 1), got ${this.beta2}`);
    if (!(this.eps > 0)) throw new RangeError(`Adam: eps must be > 0, got ${this.eps}`);
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }

  /** One update of params (length size) with gradient g; `lr` overrides the step size (schedules). */
  step(params: Floats, g: ArrayLike<number>, lr = this.lr): void {
    if (params.length !== this.size || g.length !== this.size) {
      throw new RangeError(`Adam.step: params (${params.length}) and gradient (${g.length}) must both have ${this.size} values`);
    }
    this.t++;
    const { beta1: b1, beta2: b2, eps, m, v } = this;
    const stepSize = lr / (1 - b1 ** this.t);
    const sqrtBc2 = Math.sqrt(1 - b2 ** this.t);
    const decay = 1 - lr * this.weightDecay;
    for (let i = 0; i < this.size; i++) {
      const gi = g[i];
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      if (decay !== 1) params[i] *= decay;
      params[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / sqrtBc2 + eps);
    }
  }
}
