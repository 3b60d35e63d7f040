import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dpSgdStep, type DpSgdConfig } from '../../privacy/dp-sgd.ts';
import { DpSgdOptimizer, adam, proximalTerm, sgd } from '../../privacy/dp-optimizer.ts';
import { MaterializedGradientSource } from '../../privacy/materialized-source.ts';
import { createGaussianNoise } from '../../privacy/gaussian-noise.ts';
import { createSecureRandom, seededRandomForTests } from '../../privacy/secure-random.ts';
import { perLayerSensitivity } from '../../privacy/clipping.ts';
import type { PerSampleGradientSource } from '../../privacy/types.ts';
import { dpStep, initialParams, tensorSizes, type DpStepResult } from './dp-step-fixture.ts';
import { meanAndSd } from './stats.ts';

const P = 401;
const zeroNoise = () => createGaussianNoise(seededRandomForTests(0), { kind: 'plain' });

/** The vector's per-sample gradients served through the two-pass interface (materialised). */
function vectorSource(r: DpStepResult): MaterializedGradientSource {
  return new MaterializedGradientSource(Float64Array.from(r.per_sample_grads.flat()), P, tensorSizes);
}

function configFor(r: DpStepResult): DpSgdConfig {
  const perLayer = r.variant.clipping === 'per_layer';
  return {
    noiseMultiplier: 0,
    maxGradNorm: perLayer ? (r.variant.max_grad_norm as number[]) : dpStep.max_grad_norm,
    clipping: perLayer ? 'per_layer' : 'flat',
    sampleRate: 1,
    expectedBatchSize: r.variant.expected_batch_size,
    lossReduction: r.variant.loss_reduction,
  };
}

/** float64: |d| <= 1e-12 and |d| <= 1e-10 |expected| (or |d| <= 1e-15 near 0); float32: |d| <= 1e-5 |expected|. */
function expectClose(actual: ArrayLike<number>, expected: readonly number[], dtype: 'float64' | 'float32'): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (dtype === 'float64') {
      expect(d).toBeLessThanOrEqual(1e-12);
      expect(d <= 1e-10 * Math.abs(expected[i]) || d <= 1e-15).toBe(true);
    } else {
      expect(d).toBeLessThanOrEqual(1e-5 * Math.abs(expected[i]));
    }
  }
}

describe('DP-SGD step against Opacus 1.4.0 (dp-step.json, every variant)', () => {
  it.each(dpStep.results.map((r) => [`${r.dtype} ${r.variant.name}`, r] as const))('%s', (_, r) => {
    const B = r.per_sample_grads.length;
    const L = tensorSizes.length;
    const result = dpSgdStep(vectorSource(r), configFor(r), { noise: zeroNoise(), batch: Int32Array.from({ length: B }, (_, i) => i), keepDiagnostics: true });
    const diag = result.diagnostics!;
    expectClose(diag.perSampleNorms, r.per_sample_norms, r.dtype);
    if (r.variant.clipping === 'per_layer') {
      // The vector stores per-tensor values as [tensor][sample]; ours are [sample][tensor].
      const byTensor = (a: Float64Array) => Array.from({ length: L }, (_, l) => Array.from({ length: B }, (_, b) => a[b * L + l])).flat();
      expectClose(byTensor(diag.perTensorNorms!), r.per_param_per_sample_norms.flat(), r.dtype);
      expectClose(byTensor(diag.clipFactors), r.per_layer_clip_factors!.flat(), r.dtype);
      // Opacus computes the per-layer noise std in float32 (torch.Tensor(C_list)); ours is float64.
      expect(Math.abs(perLayerSensitivity(r.variant.max_grad_norm!) / r.per_layer_noise_std_if_noise_multiplier_were_1! - 1)).toBeLessThan(1e-7);
    } else {
      expectClose(diag.clipFactors, r.clip_factors!, r.dtype);
    }
    expectClose(diag.summedClippedGradient, r.summed_clipped_grad, r.dtype);
    expectClose(result.gradient, r.final_grad, r.dtype);
    const params = r.dtype === 'float32' ? Float32Array.from(initialParams) : Float64Array.from(initialParams);
    sgd({ lr: dpStep.lr }).apply(params, result.gradient);
    expectClose(params, r.params_after_step, r.dtype);
    expect(result.accounting).toEqual({ noiseMultiplier: 0, sampleRate: 1, steps: 1 });
    expect(result.batchSize).toBe(B);
  });

  it('a norm of exactly C still gets C / (C + 1e-6) < 1', () => {
    const g = Float64Array.of(0.6, 0.8); // norm 1
    const r = dpSgdStep(new MaterializedGradientSource(g, 2), { noiseMultiplier: 0, maxGradNorm: 1, sampleRate: 1, expectedBatchSize: 1, lossReduction: 'sum' }, { noise: zeroNoise(), batch: Int32Array.of(0), keepDiagnostics: true });
    expect(r.diagnostics!.clipFactors[0]).toBe(1 / (1 + 1e-6));
  });
});

describe('clipping bounds every contribution (random gradients)', () => {
  const vec = (n: number) => fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: n, maxLength: n });
  it('flat: ||clipped g_i|| <= C and the direction is kept', () => {
    fc.assert(
      fc.property(vec(12), fc.double({ min: 0.01, max: 10, noNaN: true }), (g, c) => {
        const r = dpSgdStep(new MaterializedGradientSource(Float64Array.from(g), 12, [5, 7]), { noiseMultiplier: 0, maxGradNorm: c, sampleRate: 1, expectedBatchSize: 1, lossReduction: 'sum' }, { noise: zeroNoise(), batch: Int32Array.of(0) });
        const norm = Math.hypot(...r.gradient);
        const orig = Math.hypot(...g);
        expect(norm).toBeLessThanOrEqual(c * (1 + 1e-12));
        if (orig > 0) for (let i = 0; i < 12; i++) expect(Math.abs(r.gradient[i] * orig - g[i] * norm)).toBeLessThanOrEqual(1e-9 * orig * Math.max(norm, 1e-300) + 1e-300);
      }),
      { numRuns: 200, seed: 1 },
    );
  });

  it('per-layer: each tensor of each sample <= C_l', () => {
    fc.assert(
      fc.property(vec(12), fc.double({ min: 0.01, max: 5, noNaN: true }), fc.double({ min: 0.01, max: 5, noNaN: true }), (g, c1, c2) => {
        const r = dpSgdStep(new MaterializedGradientSource(Float64Array.from(g), 12, [5, 7]), { noiseMultiplier: 0, maxGradNorm: [c1, c2], sampleRate: 1, expectedBatchSize: 1, lossReduction: 'sum' }, { noise: zeroNoise(), batch: Int32Array.of(0) });
        expect(Math.hypot(...r.gradient.subarray(0, 5))).toBeLessThanOrEqual(c1 * (1 + 1e-12));
        expect(Math.hypot(...r.gradient.subarray(5))).toBeLessThanOrEqual(c2 * (1 + 1e-12));
      }),
      { numRuns: 200, seed: 2 },
    );
  });

  it('the sum over a batch has norm <= B C (sensitivity C per example)', () => {
    const rng = seededRandomForTests(8);
    const N = 64;
    const grads = Float64Array.from({ length: N * 30 }, () => (rng.nextDouble() - 0.5) * 40);
    const r = dpSgdStep(new MaterializedGradientSource(grads, 30), { noiseMultiplier: 0, maxGradNorm: 0.5, sampleRate: 0.5, expectedBatchSize: 32, lossReduction: 'sum' }, { noise: zeroNoise(), random: rng, keepDiagnostics: true });
    expect(Math.hypot(...r.gradient)).toBeLessThanOrEqual(0.5 * r.batchSize);
    for (let i = 0; i < r.batchSize; i++) expect(r.diagnostics!.clipFactors[i] * r.diagnostics!.perSampleNorms[i]).toBeLessThanOrEqual(0.5);
  });
});

/** A source with zero gradients that fails loudly if asked for an empty batch's norms. */
function zeroSource(numExamples: number, paramCount: number): PerSampleGradientSource & { calls: number } {
  return {
    numExamples,
    paramCount,
    tensorSizes: [paramCount],
    calls: 0,
    perSampleNorms(indices, normsOut) {
      if (indices.length === 0) throw new Error('perSampleNorms called with an empty batch');
      this.calls++;
      normsOut.fill(0, 0, indices.length);
    },
    addWeightedGradientSum() {},
  };
}

describe('noise', () => {
  it('an empty batch gives pure noise divided by the expected batch size', () => {
    const src = zeroSource(100, 50);
    const cfg: DpSgdConfig = { noiseMultiplier: 1.3, maxGradNorm: 0.7, sampleRate: 0.05, expectedBatchSize: 5, lossReduction: 'mean' };
    const r = dpSgdStep(src, cfg, { noise: createGaussianNoise(seededRandomForTests(99)), batch: new Int32Array(0) });
    const expected = new Float64Array(50);
    createGaussianNoise(seededRandomForTests(99)).addTo(expected, 1.3 * 0.7);
    for (let i = 0; i < 50; i++) expect(r.gradient[i]).toBe(expected[i] / 5);
    expect(src.calls).toBe(0);
    expect(r.batchSize).toBe(0);
    expect(r.accounting).toEqual({ noiseMultiplier: 1.3, sampleRate: 0.05, steps: 1 });
  });

  it('Poisson sampling can draw an empty batch and the step still adds noise', () => {
    const src = zeroSource(3, 10);
    const rng = seededRandomForTests(4);
    let emptySteps = 0;
    for (let s = 0; s < 20; s++) {
      const r = dpSgdStep(src, { noiseMultiplier: 1, maxGradNorm: 1, sampleRate: 0.01, expectedBatchSize: 1, lossReduction: 'sum' }, { noise: createGaussianNoise(rng), random: rng });
      if (r.batchSize === 0) {
        emptySteps++;
        expect(r.gradient.some((v) => v !== 0)).toBe(true);
      }
    }
    expect(emptySteps).toBeGreaterThan(10);
  });

  it('has std sigma C / expectedBatchSize on the averaged gradient (per-layer: sigma ||C_l||)', () => {
    const src = zeroSource(10, 40000);
    const batch = Int32Array.of(0, 3);
    const flat = dpSgdStep(src, { noiseMultiplier: 1.3, maxGradNorm: 0.7, sampleRate: 0.2, expectedBatchSize: 4, lossReduction: 'mean' }, { noise: createGaussianNoise(seededRandomForTests(5)), batch });
    const sdFlat = meanAndSd(flat.gradient).sd;
    const want = (1.3 * 0.7) / 4;
    expect(Math.abs(sdFlat - want)).toBeLessThan((5 * want) / Math.sqrt(2 * 40000));
    const src2 = { ...zeroSource(10, 40000), tensorSizes: [10000, 30000] };
    const perLayer = dpSgdStep(src2, { noiseMultiplier: 2, maxGradNorm: [0.3, 0.4], sampleRate: 0.2, expectedBatchSize: 1, lossReduction: 'sum' }, { noise: createGaussianNoise(seededRandomForTests(6)), batch, keepDiagnostics: true });
    expect(perLayer.diagnostics!.noiseStd).toBeCloseTo(2 * 0.5, 15);
    expect(Math.abs(meanAndSd(perLayer.gradient).sd - 1)).toBeLessThan(5 / Math.sqrt(2 * 40000));
  });

  it('data-independent terms are added after noise and scaling', () => {
    const src = new MaterializedGradientSource(Float64Array.of(2, 0, 0, 4), 2);
    const r = dpSgdStep(src, { noiseMultiplier: 0, maxGradNorm: 100, sampleRate: 1, expectedBatchSize: 2, lossReduction: 'mean' }, {
      noise: zeroNoise(),
      batch: Int32Array.of(0, 1),
      dataIndependentTerms: (g) => {
        g[0] += 10;
      },
    });
    // Both norms are below C (factor 1): (2 + 0) / 2 + 10 and (0 + 4) / 2; the 10 is not divided.
    expect(r.gradient[0]).toBe(11);
    expect(r.gradient[1]).toBe(2);
  });
});

describe('bad input', () => {
  const base: DpSgdConfig = { noiseMultiplier: 1, maxGradNorm: 1, sampleRate: 0.1, expectedBatchSize: 10, lossReduction: 'mean' };
  const src = new MaterializedGradientSource(Float64Array.of(1, 2, 3, 4), 2);
  const opts = { noise: zeroNoise(), batch: Int32Array.of(0, 1) };
  it('names the parameter', () => {
    expect(() => dpSgdStep(src, { ...base, noiseMultiplier: -1 }, opts)).toThrow(/noiseMultiplier/);
    expect(() => dpSgdStep(src, { ...base, maxGradNorm: 0 }, opts)).toThrow(/maxGradNorm/);
    expect(() => dpSgdStep(src, { ...base, maxGradNorm: [1, 1] }, opts)).toThrow(/maxGradNorm has 2 values/);
    expect(() => dpSgdStep(src, { ...base, sampleRate: 0 }, opts)).toThrow(/sampleRate/);
    expect(() => dpSgdStep(src, { ...base, expectedBatchSize: 0 }, opts)).toThrow(/expectedBatchSize/);
    expect(() => dpSgdStep(src, { ...base, lossReduction: 'avg' as 'mean' }, opts)).toThrow(/lossReduction/);
    expect(() => dpSgdStep(src, base, { noise: zeroNoise(), batch: Int32Array.of(1, 0) })).toThrow(/ascending/);
    expect(() => dpSgdStep(src, base, { noise: zeroNoise(), batch: Int32Array.of(5) })).toThrow(/batch\[0\]/);
    expect(() => dpSgdStep(src, base, { noise: zeroNoise() })).toThrow(/random/);
  });
  it('refuses a non-finite per-sample gradient instead of releasing NaN', () => {
    const bad = new MaterializedGradientSource(Float64Array.of(NaN, 1), 2);
    expect(() => dpSgdStep(bad, base, { noise: zeroNoise(), batch: Int32Array.of(0) })).toThrow(/sample 0/);
  });
});

describe('DpSgdOptimizer', () => {
  const r64 = dpStep.results.find((r) => r.dtype === 'float64' && r.variant.name === 'flat_mean_make_private')!;
  const cfg: DpSgdConfig = { noiseMultiplier: 0, maxGradNorm: 1, sampleRate: 1, expectedBatchSize: 8, lossReduction: 'mean' };
  const batch = Int32Array.from({ length: 8 }, (_, i) => i);

  it('reproduces the vector step and calls beforeUpdate with the accounting entry first', () => {
    const params = Float64Array.from(initialParams);
    const seen: { entry: unknown; paramsUnchanged: boolean }[] = [];
    const opt = new DpSgdOptimizer(params, {
      config: cfg,
      update: sgd({ lr: dpStep.lr }),
      noise: zeroNoise(),
      allowInsecureRandomness: true,
      beforeUpdate: (entry) => {
        seen.push({ entry, paramsUnchanged: params[0] === initialParams[0] });
      },
    });
    opt.step(vectorSource(r64), batch);
    expect(seen).toEqual([{ entry: { noiseMultiplier: 0, sampleRate: 1, steps: 1 }, paramsUnchanged: true }]);
    expectClose(params, r64.params_after_step, 'float64');
    expect(opt.steps).toBe(1);
  });

  it('a refused spend leaves the parameters untouched (sync and async)', async () => {
    const params = Float64Array.from(initialParams);
    const refuse = new DpSgdOptimizer(params, { config: cfg, update: sgd({ lr: 0.1 }), noise: zeroNoise(), allowInsecureRandomness: true, beforeUpdate: () => { throw new Error('budget exhausted'); } });
    expect(() => refuse.step(vectorSource(r64), batch)).toThrow('budget exhausted');
    const refuseAsync = new DpSgdOptimizer(params, { config: cfg, update: sgd({ lr: 0.1 }), noise: zeroNoise(), allowInsecureRandomness: true, beforeUpdate: async () => { throw new Error('ledger write failed'); } });
    await expect(refuseAsync.stepAsync(vectorSource(r64), batch)).rejects.toThrow('ledger write failed');
    expect(Array.from(params)).toEqual(initialParams);
    expect(refuse.steps).toBe(0);
  });

  it('refuses insecure randomness unless allowed', () => {
    expect(() => new DpSgdOptimizer(new Float64Array(2), { config: cfg, update: sgd({ lr: 0.1 }), noise: zeroNoise() })).toThrow(/cryptographically secure/);
    expect(() => new DpSgdOptimizer(new Float64Array(2), { config: cfg, update: sgd({ lr: 0.1 }), noise: createGaussianNoise(createSecureRandom()), random: seededRandomForTests(1) })).toThrow(/cryptographically secure/);
    expect(() => new DpSgdOptimizer(new Float64Array(2), { config: cfg, update: sgd({ lr: 0.1 }), noise: createGaussianNoise(createSecureRandom()), random: createSecureRandom() })).not.toThrow();
  });

  it('adds the proximal term after the noise', () => {
    const w0 = Float64Array.from(initialParams);
    const params = Float64Array.from(initialParams).map((v) => v + 0.5);
    const opt = new DpSgdOptimizer(params, { config: cfg, update: sgd({ lr: 0.1 }), noise: zeroNoise(), allowInsecureRandomness: true, dataIndependentTerms: proximalTerm(0.2, w0) });
    const before = params.slice();
    const res = opt.step(new MaterializedGradientSource(new Float64Array(8 * P), P), batch);
    // Zero gradients: the update is the proximal term only, 0.2 * 0.5 per coordinate.
    for (let i = 0; i < P; i++) expect(res.gradient[i]).toBeCloseTo(0.1, 14);
    for (let i = 0; i < P; i++) expect(params[i]).toBeCloseTo(before[i] - 0.01, 14);
  });
});

describe('update rules (torch semantics)', () => {
  it('sgd with momentum and weight decay', () => {
    const p = Float64Array.of(1, -2);
    const rule = sgd({ lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    rule.apply(p, Float64Array.of(0.5, 0.5));
    // d = g + wd p = (0.51, 0.48); buf = d; p -= lr buf
    expect(p[0]).toBeCloseTo(1 - 0.051, 15);
    expect(p[1]).toBeCloseTo(-2 - 0.048, 15);
    rule.apply(p, Float64Array.of(0.5, 0.5));
    // buf = 0.9 buf + d'
    const d0 = 0.5 + 0.01 * (1 - 0.051);
    expect(p[0]).toBeCloseTo(1 - 0.051 - 0.1 * (0.9 * 0.51 + d0), 14);
  });

  it('adam: the first step moves each parameter by about lr against the gradient sign', () => {
    const p = Float64Array.of(1, 1);
    adam({ lr: 0.01 }).apply(p, Float64Array.of(3, -0.2));
    expect(p[0]).toBeCloseTo(1 - 0.01 * (3 / (3 + 1e-8)), 12);
    expect(p[1]).toBeCloseTo(1 + 0.01 * (0.2 / (0.2 + 1e-8)), 12);
  });
});
