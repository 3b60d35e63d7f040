import { describe, expect, it } from 'vitest';
import { perSampleGradients, runDpStepVector } from '../../privacy/conformance/index.ts';
import { loadFixture } from './fixtures.ts';
import { dpStep, initialParams } from './dp-step-fixture.ts';

describe('reference MLP per-sample gradients', () => {
  it("match Opacus's grad_sample in dp-step.json (float64) to 1e-15", () => {
    const r = dpStep.results.find((x) => x.dtype === 'float64')!;
    const { grads } = perSampleGradients({ layerSizes: [6, 16, 16, 1], params: Float64Array.from(initialParams) }, dpStep.batch.X, dpStep.batch.y);
    const expected = r.per_sample_grads.flat();
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(grads[i] - expected[i]));
    expect(worst).toBeLessThan(1e-15);
  });

  it('agree with central finite differences of the per-sample loss', () => {
    const params = Float64Array.from(initialParams);
    const x = [dpStep.batch.X[3]];
    const y = [dpStep.batch.y[3]];
    const { grads, outputs } = perSampleGradients({ layerSizes: [6, 16, 16, 1], params }, x, y);
    const loss = (p: Float64Array) => (perSampleGradients({ layerSizes: [6, 16, 16, 1], params: p }, x, y).outputs[0] - y[0]) ** 2;
    expect(outputs.length).toBe(1);
    for (const k of [0, 100, 111, 383, 400]) {
      const h = 1e-6;
      const up = params.slice();
      up[k] += h;
      const down = params.slice();
      down[k] -= h;
      expect(Math.abs((loss(up) - loss(down)) / (2 * h) - grads[k])).toBeLessThan(1e-7);
    }
  });
});

describe('runDpStepVector (fedwear privacy conformance)', () => {
  it('passes every float64 variant of dp-step.json', () => {
    const report = runDpStepVector(loadFixture('dp-step.json'));
    expect(report.pass).toBe(true);
    expect(report.layerSizes).toEqual([6, 16, 16, 1]);
    expect(report.variants.map((v) => v.name)).toEqual(['flat_mean_make_private', 'flat_mean_expected_batch_10', 'flat_sum', 'per_layer_mean']);
    for (const v of report.variants) for (const c of v.checks!) expect(c.maxAbsDiff).toBeLessThan(1e-12);
  });

  it('fails (pass = false) when an expected value is wrong', () => {
    const v = structuredClone(loadFixture<{ results: { final_grad: number[] }[] }>('dp-step.json'));
    v.results[0].final_grad[7] += 1e-9;
    const report = runDpStepVector(v);
    expect(report.pass).toBe(false);
    expect(report.variants[0].checks!.find((c) => c.field === 'final_grad')!.pass).toBe(false);
  });

  it('runs a vector without expected results as flat / mean / expected batch = B', () => {
    const v = structuredClone(loadFixture<Record<string, unknown>>('dp-step.json'));
    delete v.results;
    const report = runDpStepVector(v);
    expect(report.variants.length).toBe(1);
    expect(report.variants[0].expectedBatchSize).toBe(8);
    const ref = dpStep.results.find((r) => r.dtype === 'float64' && r.variant.name === 'flat_mean_make_private')!;
    expect(report.variants[0].averagedClippedGradient[5]).toBeCloseTo(ref.final_grad[5], 15);
  });

  it('names the bad field', () => {
    const v = structuredClone(loadFixture<Record<string, unknown>>('dp-step.json'));
    v.noise_multiplier = 1;
    expect(() => runDpStepVector(v)).toThrow(/noise_multiplier/);
    const w = structuredClone(loadFixture<{ model: { params: Record<string, unknown> } }>('dp-step.json'));
    delete w.model.params['2.bias'];
    expect(() => runDpStepVector(w)).toThrow(/model\.params\.2\.bias/);
  });
});
