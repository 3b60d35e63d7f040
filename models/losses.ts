/**
 * Per-sample losses and their gradients with respect to the model output.
 *
 * Semantics are those of Opacus with loss_reduction="mean" (shared/notes/opacus.md §1.3): the
 * per-sample gradient is the gradient of the sample's own loss, where the sample's loss is what torch's
 * MSELoss / HuberLoss (reduction="mean") would give for a batch of that one sample — so with k > 1
 * outputs the 1/k of the mean over output columns stays in.
 */
import type { Floats } from './mlp.ts';

export type LossSpec =
  | { readonly kind: 'mse' }
  /** torch.nn.HuberLoss(delta): 0.5 r² for |r| < delta, else delta (|r| - delta/2). */
  | { readonly kind: 'huber'; readonly delta: number };

export const MSE: LossSpec = { kind: 'mse' };
export function huber(delta = 1): LossSpec {
  if (!(delta > 0) || !Number.isFinite(delta)) throw new Error(`Huber loss: delta must be a positive finite number, got ${delta}`);
  return { kind: 'huber', delta };
}

export function validateLoss(loss: LossSpec): void {
  if (loss.kind === 'mse') return;
  if (loss.kind === 'huber') {
    huber(loss.delta);
    return;
  }
  throw new Error(`unknown loss ${JSON.stringify(loss)} (expected kind mse or huber)`);
}

/**
 * For rows [0, batch) of pred and target ([batch × k]): writes dLoss_i/dpred_i into gradOut and, if
 * given, the per-sample loss into lossOut[i].
 */
export function lossGradient(
  loss: LossSpec, pred: Floats, target: Floats, batch: number, k: number, gradOut: Floats, lossOut?: Float64Array,
): void {
  const invK = 1 / k;
  if (loss.kind === 'mse') {
    for (let i = 0; i < batch; i++) {
      let l = 0;
      for (let j = i * k, e = j + k; j < e; j++) {
        const r = pred[j] - target[j];
        gradOut[j] = 2 * r * invK;
        l += r * r;
      }
      if (lossOut) lossOut[i] = l * invK;
    }
    return;
  }
  const d = loss.delta;
  for (let i = 0; i < batch; i++) {
    let l = 0;
    for (let j = i * k, e = j + k; j < e; j++) {
      const r = pred[j] - target[j];
      const a = Math.abs(r);
      if (a < d) {
        gradOut[j] = r * invK;
        l += 0.5 * r * r;
      } else {
        gradOut[j] = (r > 0 ? d : -d) * invK;
        l += d * (a - 0.5 * d);
      }
    }
    if (lossOut) lossOut[i] = l * invK;
  }
}

/** Mean of the per-sample losses over n rows. */
export function meanLoss(loss: LossSpec, pred: ArrayLike<number>, target: ArrayLike<number>, n: number, k: number): number {
  let total = 0;
  for (let j = 0; j < n * k; j++) {
    const r = pred[j] - target[j];
    if (loss.kind === 'mse') total += r * r;
    else {
      const a = Math.abs(r);
      total += a < loss.delta ? 0.5 * r * r : loss.delta * (a - 0.5 * loss.delta);
    }
  }
  return n === 0 ? 0 : total / (n * k);
}

/** Mean absolute error over n·k values. */
export function meanAbsoluteError(pred: ArrayLike<number>, target: ArrayLike<number>, count: number): number {
  let s = 0;
  for (let j = 0; j < count; j++) s += Math.abs(pred[j] - target[j]);
  return count === 0 ? 0 : s / count;
}
