/**
 * MlpGradientSource as the privacy engine sees it: only through PerSampleGradientSource. A DP-SGD
 * step written against the interface alone (Opacus's flat clipping, sigma = 0, division by the
 * expected batch size, SGD) must land on Opacus's params_after_step from dp-step.json.
 */
import { describe, expect, it } from 'vitest';
import type { PerSampleGradientSource } from '../../privacy/types.ts';
import { Mlp } from '../../models/mlp.ts';
import { MlpGradientSource } from '../../models/gradient-source.ts';
import { DP_STEP_ARCH, type DpStepVector, maxAbsErr, range, readVector } from './helpers.ts';

const vec = readVector<DpStepVector>('dp-step.json');

/** What privacy/ will do, in its simplest form: only interface calls. */
function dpSgdStepNoNoise(src: PerSampleGradientSource, indices: Int32Array, C: number, expectedBatch: number): Float64Array {
  const B = indices.length;
  const norms = new Float64Array(B);
  src.perSampleNorms(indices, norms);
  const factors = norms.map((n) => Math.min(1, C / (n + 1e-6)));
  const sum = new Float64Array(src.paramCount);
  src.addWeightedGradientSum(factors, sum);
  return sum.map((v) => v / expectedBatch);
}

describe('MlpGradientSource satisfies the privacy contract', () => {
  it('exposes sizes the engine needs', () => {
    const model = Mlp.fromStateDict(DP_STEP_ARCH, vec.model.params, 'float64');
    const src: PerSampleGradientSource = new MlpGradientSource(model, new Float64Array(8 * 6), new Float64Array(8));
    expect(src.numExamples).toBe(8);
    expect(src.paramCount).toBe(401);
    expect(src.tensorSizes).toEqual([96, 16, 256, 16, 16, 1]);
    expect(src.tensorSizes.reduce((a, b) => a + b, 0)).toBe(src.paramCount);
  });

  for (const dtype of ['float64', 'float32'] as const) {
    it(`one DP-SGD step through the interface reproduces Opacus's params_after_step (${dtype}; abs ${dtype === 'float64' ? '1e-12' : '1e-6'})`, () => {
      const ref = vec.results.find((r) => r.dtype === dtype && r.variant.name === 'flat_mean_expected_batch_10')!;
      const model = Mlp.fromStateDict(DP_STEP_ARCH, vec.model.params, dtype);
      const cast = dtype === 'float32' ? Float32Array : Float64Array;
      const src = new MlpGradientSource(model, cast.from(vec.batch.X.flat()), cast.from((vec.batch.y as unknown[]).flat() as number[]));
      const grad = dpSgdStepNoNoise(src, range(8), vec.max_grad_norm, ref.variant.expected_batch_size);
      const tol = dtype === 'float64' ? 1e-12 : 1e-6;
      expect(maxAbsErr(grad, ref.final_grad)).toBeLessThanOrEqual(tol);
      const params = src instanceof MlpGradientSource ? src.trainableParams() : model.params;
      for (let p = 0; p < params.length; p++) params[p] -= vec.lr * grad[p];
      expect(maxAbsErr(model.params, ref.params_after_step)).toBeLessThanOrEqual(tol);
    });
  }
});
