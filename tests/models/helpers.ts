import fs from 'node:fs';
import path from 'node:path';
import { Mlp, type DType } from '../../models/mlp.ts';
import type { MlpArchitecture } from '../../models/layout.ts';
import { initializeParams } from '../../models/mlp.ts';
import { gaussian, seededRng } from '../../models/random.ts';

/** Reference vectors: the repository's copies in tests/fixtures, else shared/vectors beside the repository. */
const VECTOR_DIRS = [path.resolve(import.meta.dirname, '../fixtures'), path.resolve(import.meta.dirname, '../../../shared/vectors')];

export function readVector<T>(name: string): T {
  const file = VECTOR_DIRS.map((d) => path.join(d, name)).find((f) => fs.existsSync(f));
  if (!file) throw new Error(`test vector ${name} not found in ${VECTOR_DIRS.join(' or ')}`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

export interface DpStepResult {
  dtype: 'float32' | 'float64';
  variant: { name: string; loss_reduction: string; expected_batch_size: number; clipping?: string; max_grad_norm?: number[] };
  model_output: number[];
  per_sample_grads: number[][];
  per_param_per_sample_norms: number[][];
  per_sample_norms: number[];
  summed_clipped_grad: number[];
  final_grad: number[];
  params_after_step: number[];
  clip_factors?: number[];
  /** [tensor][sample] for per-layer clipping. */
  per_layer_clip_factors?: number[][];
}

export interface DpStepVector {
  model: { param_order: string[]; params: Record<string, number[] | number[][]>; num_params: number };
  batch: { X: number[][]; y: number[][] | number[] };
  max_grad_norm: number;
  lr: number;
  results: DpStepResult[];
}

export const DP_STEP_ARCH: MlpArchitecture = { layerSizes: [6, 16, 16, 1], activation: 'tanh' };

/** A seeded model with torch's default init and a batch of normal features and targets. */
export function randomProblem(arch: MlpArchitecture, n: number, seed: number, dtype: DType = 'float64') {
  const rng = seededRng(seed);
  const model = new Mlp(arch, { dtype });
  initializeParams(model.layout, model.params, rng);
  const nIn = arch.layerSizes[0];
  const k = arch.layerSizes[arch.layerSizes.length - 1];
  const X = new Float64Array(n * nIn).map(() => gaussian(rng));
  const y = new Float64Array(n * k).map(() => 2 * gaussian(rng));
  return { model, X: dtype === 'float32' ? Float32Array.from(X) : X, y: dtype === 'float32' ? Float32Array.from(y) : y, rng };
}

export function range(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

/** max_j |a_j - b_j| / max(|b_j|, floor). */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 0): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[j] - b[j]) / Math.max(Math.abs(b[j]), floor));
  return m;
}

export function maxAbsErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[j] - b[j]));
  return m;
}
