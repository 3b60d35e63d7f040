/**
 * Runs a DP-SGD test vector in the format of shared/vectors/dp-step.json (tanh MLP weights, one batch,
 * C, lr, zero noise) through this package's DP-SGD step, and compares with the expected values when
 * the vector has them.
 */
import { z } from 'zod';
import { dpSgdStep, type ClippingMode, type LossReduction } from '../dp-sgd.ts';
import { createGaussianNoise } from '../gaussian-noise.ts';
import { MaterializedGradientSource } from '../materialized-source.ts';
import { seededRandomForTests } from '../secure-random.ts';
import { sgd } from '../dp-optimizer.ts';
import { mlpTensorSizes, perSampleGradients } from './reference-mlp.ts';

type Nested = number | Nested[];
const nested: z.ZodType<Nested> = z.lazy(() => z.union([z.number(), z.array(nested)]));

const variantSchema = z.object({
  name: z.string(),
  loss_reduction: z.enum(['mean', 'sum']),
  expected_batch_size: z.number().positive(),
  clipping: z.enum(['flat', 'per_layer']).optional(),
  max_grad_norm: z.union([z.number().positive(), z.array(z.number().positive())]).optional(),
});

const resultSchema = z.object({
  dtype: z.string(),
  variant: variantSchema,
  per_sample_norms: z.array(z.number()).optional(),
  clip_factors: z.array(z.number()).optional(),
  per_layer_clip_factors: z.array(z.array(z.number())).optional(),
  summed_clipped_grad: z.array(z.number()).optional(),
  final_grad: z.array(z.number()).optional(),
  params_after_step: z.array(z.number()).optional(),
});

export const dpStepVectorSchema = z.object({
  model: z.object({
    layers: z.string(),
    param_order: z.array(z.string()).min(2),
    param_shapes: z.record(z.string(), z.array(z.number().int().positive())),
    params: z.record(z.string(), nested),
  }),
  batch: z.object({ X: z.array(z.array(z.number())).min(1), y: z.array(nested) }),
  max_grad_norm: z.number().positive(),
  noise_multiplier: z.literal(0),
  lr: z.number().positive(),
  results: z.array(resultSchema).optional(),
});

export type DpStepVector = z.infer<typeof dpStepVectorSchema>;

export interface ConformanceCheck {
  field: string;
  maxAbsDiff: number;
  maxRelDiff: number;
  pass: boolean;
}

export interface ConformanceVariantResult {
  name: string;
  lossReduction: LossReduction;
  expectedBatchSize: number;
  clipping: ClippingMode;
  perSampleNorms: number[];
  /** [B] for flat clipping, [tensors][B] for per-layer (the vector's layout). */
  clipFactors: number[] | number[][];
  /** Clipped gradients summed and divided by the expected batch size ('mean'; the sum for 'sum'), zero noise. */
  averagedClippedGradient: number[];
  newWeights: number[];
  checks?: ConformanceCheck[];
}

export interface ConformanceReport {
  layerSizes: number[];
  paramCount: number;
  batchSize: number;
  variants: ConformanceVariantResult[];
  /** False when any check against the vector's expected values failed. */
  pass: boolean;
}

function flatten(v: Nested, out: number[]): void {
  if (typeof v === 'number') out.push(v);
  else for (const e of v) flatten(e, out);
}

/** Parses and checks a vector; errors name the offending field. */
export function parseDpStepVector(json: unknown): DpStepVector {
  const parsed = dpStepVectorSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RangeError(`conformance vector: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

function layerSizesOf(v: DpStepVector): number[] {
  if (/relu/i.test(v.model.layers)) throw new RangeError('conformance vector: model.layers: only tanh MLPs are supported');
  const order = v.model.param_order;
  if (order.length % 2 !== 0) throw new RangeError('conformance vector: model.param_order: expected weight, bias pairs');
  const sizes: number[] = [];
  for (let l = 0; l < order.length; l += 2) {
    const shape = v.model.param_shapes[order[l]];
    if (!shape || shape.length !== 2) throw new RangeError(`conformance vector: model.param_shapes.${order[l]}: expected a [out, in] weight shape`);
    if (l === 0) sizes.push(shape[1]);
    else if (shape[1] !== sizes[sizes.length - 1]) throw new RangeError(`conformance vector: model.param_shapes.${order[l]}: input width ${shape[1]} does not match ${sizes[sizes.length - 1]}`);
    sizes.push(shape[0]);
  }
  return sizes;
}

function compare(field: string, actual: ArrayLike<number>, expected: readonly number[] | undefined, checks: ConformanceCheck[]): void {
  if (!expected) return;
  if (expected.length !== actual.length) {
    checks.push({ field, maxAbsDiff: Infinity, maxRelDiff: Infinity, pass: false });
    return;
  }
  let maxAbs = 0;
  let maxRel = 0;
  let pass = true;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    maxAbs = Math.max(maxAbs, d);
    if (expected[i] !== 0) maxRel = Math.max(maxRel, d / Math.abs(expected[i]));
    // shared/vectors/dp-step.json tolerances_suggested for float64: abs 1e-12 (relative 1e-10).
    if (!(d <= 1e-12 || d <= 1e-10 * Math.abs(expected[i]))) pass = false;
  }
  checks.push({ field, maxAbsDiff: maxAbs, maxRelDiff: maxRel, pass });
}

/** Runs every float64 variant of the vector (or flat/mean/expected batch = B when it lists none). */
export function runDpStepVector(json: unknown): ConformanceReport {
  const v = parseDpStepVector(json);
  const layerSizes = layerSizesOf(v);
  const params: number[] = [];
  for (const name of v.model.param_order) {
    const p = v.model.params[name];
    if (p === undefined) throw new RangeError(`conformance vector: model.params.${name} is missing`);
    flatten(p, params);
  }
  const tensorSizes = mlpTensorSizes(layerSizes);
  const P = tensorSizes.reduce((a, b) => a + b, 0);
  if (params.length !== P) throw new RangeError(`conformance vector: model.params has ${params.length} numbers, the architecture needs ${P}`);
  const y: number[] = [];
  for (const e of v.batch.y) flatten(e, y);
  const B = v.batch.X.length;
  const weights = Float64Array.from(params);
  const { grads } = perSampleGradients({ layerSizes, params: weights }, v.batch.X, y);
  const source = new MaterializedGradientSource(grads, P, tensorSizes);
  const batch = Int32Array.from({ length: B }, (_, i) => i);
  // Zero noise: the source is never drawn from, a seeded one keeps this free of OS randomness.
  const noise = createGaussianNoise(seededRandomForTests(0), { kind: 'plain' });

  const listed = (v.results ?? []).filter((r) => r.dtype === 'float64');
  const variants = listed.length
    ? listed
    : [{ dtype: 'float64', variant: { name: 'flat_mean', loss_reduction: 'mean' as const, expected_batch_size: B } }];
  const out: ConformanceVariantResult[] = [];
  let allPass = true;
  for (const r of variants) {
    const clipping: ClippingMode = r.variant.clipping ?? 'flat';
    const maxGradNorm = r.variant.max_grad_norm ?? v.max_grad_norm;
    const step = dpSgdStep(
      source,
      { noiseMultiplier: 0, maxGradNorm, clipping, sampleRate: Math.min(1, r.variant.expected_batch_size / B), expectedBatchSize: r.variant.expected_batch_size, lossReduction: r.variant.loss_reduction },
      { noise, batch, keepDiagnostics: true },
    );
    const diag = step.diagnostics!;
    const newWeights = weights.slice();
    sgd({ lr: v.lr }).apply(newWeights, step.gradient);
    const L = tensorSizes.length;
    const clipFactors =
      clipping === 'flat' ? Array.from(diag.clipFactors) : Array.from({ length: L }, (_, l) => Array.from({ length: B }, (_, b) => diag.clipFactors[b * L + l]));
    const result: ConformanceVariantResult = {
      name: r.variant.name,
      lossReduction: r.variant.loss_reduction,
      expectedBatchSize: r.variant.expected_batch_size,
      clipping,
      perSampleNorms: Array.from(diag.perSampleNorms),
      clipFactors,
      averagedClippedGradient: Array.from(step.gradient),
      newWeights: Array.from(newWeights),
    };
    if ('final_grad' in r) {
      const checks: ConformanceCheck[] = [];
      compare('per_sample_norms', diag.perSampleNorms, r.per_sample_norms, checks);
      if (clipping === 'flat') compare('clip_factors', diag.clipFactors, r.clip_factors, checks);
      else compare('per_layer_clip_factors', (clipFactors as number[][]).flat(), r.per_layer_clip_factors?.flat(), checks);
      compare('summed_clipped_grad', diag.summedClippedGradient, r.summed_clipped_grad, checks);
      compare('final_grad', step.gradient, r.final_grad, checks);
      compare('params_after_step', newWeights, r.params_after_step, checks);
      result.checks = checks;
      if (checks.some((c) => !c.pass)) allPass = false;
    }
    out.push(result);
  }
  return { layerSizes, paramCount: P, batchSize: B, variants: out, pass: allPass };
}
