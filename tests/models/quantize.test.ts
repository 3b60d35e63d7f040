import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Mlp } from '../../models/mlp.ts';
import { MlpGradientSource } from '../../models/gradient-source.ts';
import { MIN_SCALE, dequantizeMlp, dequantizeRows, fakeQuantizeParams, quantizationCost, quantizeMlp, quantizeRows, roundHalfEven } from '../../models/quantize.ts';
import { meanAbsoluteError } from '../../models/losses.ts';
import type { MlpArchitecture } from '../../models/layout.ts';
import { randomProblem, range } from './helpers.ts';

describe('symmetric int8 per-channel quantization', () => {
  it('round half to even', () => {
    expect([2.5, 3.5, -2.5, -3.5, 0.5, -0.5, 2.4, -2.6, 126.5].map(roundHalfEven)).toEqual([2, 4, -2, -4, 0, -0, 2, -3, 126]);
  });

  it('|w - deq(q(w))| <= scale/2 (plus float32 rounding of the product), q in [-127, 127], the row max maps to ±127', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 9 }),
        fc.array(fc.float({ min: -50, max: 50, noNaN: true }), { minLength: 54, maxLength: 54 }),
        (rows, cols, vals) => {
          const W = Float32Array.from(vals.slice(0, rows * cols));
          const q = new Int8Array(rows * cols);
          const s = new Float32Array(rows);
          quantizeRows(W, 0, rows, cols, q, s);
          const deq = new Float32Array(rows * cols);
          dequantizeRows(q, s, rows, cols, deq, 0);
          for (let r = 0; r < rows; r++) {
            const row = W.subarray(r * cols, (r + 1) * cols);
            const maxAbs = Math.max(...Array.from(row, Math.abs));
            expect(s[r]).toBe(Math.fround(Math.max(maxAbs / 127, MIN_SCALE)));
            let hitMax = false;
            for (let c = 0; c < cols; c++) {
              const j = r * cols + c;
              expect(Math.abs(q[j])).toBeLessThanOrEqual(127);
              // fround of q·s adds at most half an ulp of |deq| <= 2^-24 |deq|.
              expect(Math.abs(W[j] - deq[j])).toBeLessThanOrEqual(s[r] / 2 + Math.abs(deq[j]) * 2 ** -24 + 1e-30);
              if (Math.abs(q[j]) === 127) hitMax = true;
            }
            if (maxAbs >= 127 * MIN_SCALE) expect(hitMax).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('an all-zero row gets the minimum scale and zeros', () => {
    const q = new Int8Array(3);
    const s = new Float32Array(1);
    quantizeRows(new Float32Array(3), 0, 1, 3, q, s);
    expect(s[0]).toBe(MIN_SCALE);
    expect(Array.from(q)).toEqual([0, 0, 0]);
  });

  it('rejects non-finite weights', () => {
    expect(() => quantizeRows(Float32Array.from([1, Infinity]), 0, 1, 2, new Int8Array(2), new Float32Array(1))).toThrow(/non-finite/);
  });

  it('quantizeMlp keeps float32 biases and dequantizes into the model layout', () => {
    const { model } = randomProblem({ layerSizes: [3, 5, 1], activation: 'tanh' }, 1, 2, 'float32');
    const qm = quantizeMlp(model);
    expect(qm.layers.map((l) => [l.outSize, l.inSize, l.scales.length])).toEqual([[5, 3, 5], [1, 5, 1]]);
    const deq = dequantizeMlp(qm);
    const b = model.layout.layers[0].biasOffset;
    expect(Array.from(deq.subarray(b, b + 5))).toEqual(Array.from(model.params.subarray(b, b + 5)));
    const fq = new Float32Array(model.paramCount);
    fakeQuantizeParams(model.layout, model.params, fq);
    expect(Array.from(fq)).toEqual(Array.from(deq));
    expect(Array.from(fq)).not.toEqual(Array.from(model.params));
  });
});

describe('quantization-aware training (straight-through estimator)', () => {
  const arch: MlpArchitecture = { layerSizes: [6, 12, 8, 1], activation: 'relu' };

  it('the fake-quantized forward and gradients equal those of the int8-dequantized model, exactly', () => {
    const B = 9;
    const { model, X, y } = randomProblem(arch, B, 21, 'float32');
    const deqModel = new Mlp(arch, { params: dequantizeMlp(quantizeMlp(model)) });
    const qat = new MlpGradientSource(model, X, y, { quantAware: true });
    const ref = new MlpGradientSource(deqModel, X, y);
    const gq = new Float64Array(B * qat.paramCount);
    const gr = new Float64Array(B * ref.paramCount);
    qat.perSampleGradients(range(B), gq);
    ref.perSampleGradients(range(B), gr);
    expect(Array.from(gq)).toEqual(Array.from(gr));
    expect(Array.from(qat.lastLosses())).toEqual(Array.from(ref.lastLosses()));
    // And the flag matters: the float model's gradients differ.
    const gf = new Float64Array(B * qat.paramCount);
    new MlpGradientSource(model, X, y).perSampleGradients(range(B), gf);
    expect(Array.from(gf)).not.toEqual(Array.from(gq));
    // The gradient is applied to the float weights, which stay un-rounded.
    expect(qat.trainableParams().buffer).toBe(model.params.buffer);
    expect(Array.from(qat.trainableParams())).toEqual(Array.from(model.params));
  });

  it('re-quantizes after the parameters change between steps', () => {
    const B = 4;
    const { model, X, y } = randomProblem(arch, B, 22, 'float32');
    const qat = new MlpGradientSource(model, X, y, { quantAware: true });
    const n1 = new Float64Array(B);
    qat.perSampleNorms(range(B), n1);
    const g = new Float64Array(qat.paramCount);
    qat.addWeightedGradientSum(new Float64Array(B).fill(1 / B), g);
    const params = qat.trainableParams();
    for (let p = 0; p < params.length; p++) params[p] -= 0.5 * g[p];
    const n2 = new Float64Array(B);
    qat.perSampleNorms(range(B), n2);
    const fresh = new Float64Array(B);
    new MlpGradientSource(new Mlp(arch, { params: dequantizeMlp(quantizeMlp(model)) }), X, y).perSampleNorms(range(B), fresh);
    expect(Array.from(n2)).toEqual(Array.from(fresh));
    expect(Array.from(n2)).not.toEqual(Array.from(n1));
  });

  it('quantizationCost reports the MAE of both models on the data', () => {
    const n = 200;
    const { model, X, y } = randomProblem(arch, n, 23, 'float32');
    const cost = quantizationCost(model, X, y, n);
    const deqModel = new Mlp(arch, { params: dequantizeMlp(quantizeMlp(model)) });
    expect(cost.maeFloat32).toBeCloseTo(meanAbsoluteError(model.predict(X, n), y, n), 12);
    expect(cost.maeInt8).toBeCloseTo(meanAbsoluteError(deqModel.predict(X, n), y, n), 12);
    expect(cost.maeIncrease).toBeCloseTo(cost.maeInt8 - cost.maeFloat32, 15);
    expect(cost.maxAbsOutputDiff).toBeGreaterThan(0);
    // Per-channel int8 on a small MLP: outputs move by well under 5% of the output spread here.
    expect(cost.maxAbsOutputDiff).toBeLessThan(0.05);
    expect(cost.samples).toBe(n);
  });
});
