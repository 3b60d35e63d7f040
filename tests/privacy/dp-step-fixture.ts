/** dp-step.json (tests/fixtures, from shared/vectors) as typed arrays. */
import { loadFixture } from './fixtures.ts';

type Nested = number | Nested[];
export interface DpStepResult {
  dtype: 'float64' | 'float32';
  variant: { name: string; loss_reduction: 'mean' | 'sum'; expected_batch_size: number; clipping?: 'per_layer'; max_grad_norm?: number[] };
  per_sample_grads: number[][];
  per_param_per_sample_norms: number[][];
  per_sample_norms: number[];
  summed_clipped_grad: number[];
  final_grad: number[];
  params_after_step: number[];
  clip_factors?: number[];
  per_layer_clip_factors?: number[][];
  per_layer_noise_std_if_noise_multiplier_were_1?: number;
}
export interface DpStepVectorFile {
  model: { param_order: string[]; param_shapes: Record<string, number[]>; params: Record<string, Nested> };
  batch: { X: number[][]; y: number[] };
  max_grad_norm: number;
  lr: number;
  results: DpStepResult[];
}

export const dpStep = loadFixture<DpStepVectorFile>('dp-step.json');
export const tensorSizes = dpStep.model.param_order.map((n) => dpStep.model.param_shapes[n].reduce((a, b) => a * b, 1));
export const initialParams = dpStep.model.param_order.flatMap((n) => [dpStep.model.params[n]].flat(3) as number[]);
