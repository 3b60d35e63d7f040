/**
 * Per-sample clip factors, Opacus v1.4.0 (shared/notes/opacus.md §1.4 and §1.6).
 */

/** Opacus's additive guard in the clip factor (optimizer.py `clip_and_accumulate`): a norm of exactly C still gets C/(C+1e-6) < 1. */
export const CLIP_EPSILON = 1e-6;

function checkNorm(norm: number, where: string): void {
  // A NaN or infinite gradient would turn the whole noisy sum into NaN; stop instead of releasing it.
  if (!Number.isFinite(norm) || norm < 0) throw new RangeError(`${where}: per-sample gradient norm must be finite and >= 0 (got ${norm})`);
}

/**
 * Flat clipping, opacus/optimizers/optimizer.py `DPOptimizer.clip_and_accumulate`:
 * factor_i = (C / (||g_i|| + 1e-6)).clamp(max=1.0).
 */
export function flatClipFactors(norms: Float64Array, maxGradNorm: number, out: Float64Array = new Float64Array(norms.length)): Float64Array {
  if (!(maxGradNorm > 0) || !Number.isFinite(maxGradNorm)) throw new RangeError(`maxGradNorm must be finite and > 0 (got ${maxGradNorm})`);
  for (let i = 0; i < norms.length; i++) {
    checkNorm(norms[i], `sample ${i}`);
    const f = maxGradNorm / (norms[i] + CLIP_EPSILON);
    out[i] = f > 1 ? 1 : f;
  }
  return out;
}

/**
 * Per-layer clipping, opacus/optimizers/perlayeroptimizer.py `DPPerLayerOptimizer.clip_and_accumulate`:
 * factor_{i,l} = min(1, C_l / (||g_{i,l}|| + 1e-6)); norms and result row-major [B][L].
 */
export function perLayerClipFactors(perTensorNorms: Float64Array, maxGradNorms: readonly number[], out: Float64Array = new Float64Array(perTensorNorms.length)): Float64Array {
  const L = maxGradNorms.length;
  if (L === 0 || perTensorNorms.length % L !== 0) throw new RangeError(`perTensorNorms length ${perTensorNorms.length} is not a multiple of maxGradNorm count ${L}`);
  maxGradNorms.forEach((c, l) => {
    if (!(c > 0) || !Number.isFinite(c)) throw new RangeError(`maxGradNorm[${l}] must be finite and > 0 (got ${c})`);
  });
  for (let k = 0; k < perTensorNorms.length; k++) {
    checkNorm(perTensorNorms[k], `sample ${Math.floor(k / L)}, tensor ${k % L}`);
    const f = maxGradNorms[k % L] / (perTensorNorms[k] + CLIP_EPSILON);
    out[k] = f > 1 ? 1 : f;
  }
  return out;
}

/**
 * The sensitivity per-layer clipping gives the sum: ||(C_1, ..., C_L)||_2. Opacus replaces
 * max_grad_norm by this (`torch.norm(torch.Tensor(C_list), p=2)`, computed in float32 there; we keep
 * it in float64, which differs from Opacus's noise std by < 1e-7 relative).
 */
export function perLayerSensitivity(maxGradNorms: readonly number[]): number {
  let s = 0;
  for (const c of maxGradNorms) s += c * c;
  return Math.sqrt(s);
}
