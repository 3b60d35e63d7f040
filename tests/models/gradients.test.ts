/**
 * Per-sample gradients of the MLP against finite differences (float64), and the ghost-norm /
 * weighted-sum shortcuts against the materialised per-sample gradients.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Mlp, MlpWorkspace } from '../../models/mlp.ts';
import { MlpGradientSource } from '../../models/gradient-source.ts';
import { type LossSpec, MSE, huber, lossGradient, meanLoss } from '../../models/losses.ts';
import type { Activation, MlpArchitecture } from '../../models/layout.ts';
import { maxAbsErr, randomProblem, range } from './helpers.ts';

/** Sample i's own loss at the model's current parameters (float64). */
function sampleLoss(model: Mlp, X: Float64Array | Float32Array, y: Float64Array | Float32Array, i: number, loss: LossSpec): number {
  const nIn = model.inputSize;
  const k = model.outputSize;
  const pred = model.predict(X.subarray(i * nIn, (i + 1) * nIn), 1);
  return meanLoss(loss, pred, y.subarray(i * k, (i + 1) * k), 1, k);
}

function materialise(src: MlpGradientSource, B: number): Float64Array {
  const g = new Float64Array(B * src.paramCount);
  src.perSampleGradients(range(B), g);
  return g;
}

describe('finite differences (float64, central, h = 1e-6; tolerance 1e-7 abs + 1e-6 rel)', () => {
  const cases: Array<{ act: Activation; loss: LossSpec; sizes: number[] }> = [
    { act: 'tanh', loss: MSE, sizes: [4, 5, 3, 1] },
    { act: 'relu', loss: MSE, sizes: [4, 6, 5, 1] },
    // Huber's delta is set between the residuals (below) so both branches run, away from the kink.
    { act: 'tanh', loss: huber(), sizes: [3, 4, 2] },
    { act: 'relu', loss: huber(), sizes: [5, 7, 1] },
    // Two outputs: the 1/k of torch's mean over columns stays in the per-sample gradient.
    { act: 'tanh', loss: MSE, sizes: [3, 4, 2] },
  ];
  for (const { act, loss: baseLoss, sizes } of cases) {
    it(`${sizes.join('-')} ${act} ${baseLoss.kind}`, () => {
      const arch: MlpArchitecture = { layerSizes: sizes, activation: act };
      const B = 5;
      const { model, X, y } = randomProblem(arch, B, 1000 + sizes.length * 17 + (act === 'relu' ? 1 : 0));
      let loss = baseLoss;
      if (loss.kind === 'huber') {
        const r = Array.from(model.predict(X, B), (p, j) => Math.abs(p - y[j])).sort((a, b) => a - b);
        const m = r.length >> 1;
        loss = huber((r[m - 1] + r[m]) / 2);
        expect(r[m] - r[m - 1]).toBeGreaterThan(1e-3);
      }
      const src = new MlpGradientSource(model, X, y, { loss });
      const g = materialise(src, B);
      const h = 1e-6;
      let worst = 0;
      for (let i = 0; i < B; i++) {
        for (let p = 0; p < model.paramCount; p++) {
          const saved = model.params[p];
          model.params[p] = saved + h;
          const up = sampleLoss(model, X, y, i, loss);
          model.params[p] = saved - h;
          const down = sampleLoss(model, X, y, i, loss);
          model.params[p] = saved;
          const fd = (up - down) / (2 * h);
          const an = g[i * model.paramCount + p];
          worst = Math.max(worst, Math.abs(fd - an) - 1e-6 * Math.abs(fd));
        }
      }
      expect(worst).toBeLessThan(1e-7);
    });
  }
});

describe('losses', () => {
  it('MSE gradient is 2r/k and Huber gradient is r inside delta, ±delta outside (divided by k)', () => {
    const pred = new Float64Array([1, 5, -3, 0.2]);
    const target = new Float64Array([0, 1, 0, 0]);
    const g = new Float64Array(4);
    const l = new Float64Array(2);
    lossGradient(MSE, pred, target, 2, 2, g, l);
    expect(Array.from(g)).toEqual([1, 4, -3, 0.2]);
    expect(l[0]).toBeCloseTo((1 + 16) / 2, 12);
    lossGradient(huber(1), pred, target, 2, 2, g, l);
    expect(Array.from(g)).toEqual([0.5, 0.5, -0.5, 0.1]);
    expect(l[0]).toBeCloseTo((0.5 + 3.5) / 2, 12);
    expect(l[1]).toBeCloseTo((2.5 + 0.02) / 2, 12);
  });

  it('rejects a non-positive Huber delta', () => {
    expect(() => huber(0)).toThrow(/delta/);
  });
});

const archArb = fc.record({
  layerSizes: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 2, maxLength: 5 }),
  activation: fc.constantFrom<Activation>('tanh', 'relu'),
});

describe('ghost norms and weighted sums (float64, relative 1e-12)', () => {
  it('ghost norms equal the norms of the materialised gradients, per sample and per tensor', () => {
    fc.assert(
      fc.property(archArb, fc.integer({ min: 1, max: 12 }), fc.integer(), (arch, B, seed) => {
        const { model, X, y } = randomProblem(arch, B, seed);
        const src = new MlpGradientSource(model, X, y, { loss: huber(1) });
        const g = materialise(src, B);
        const T = src.tensorSizes.length;
        const norms = new Float64Array(B);
        const perTensor = new Float64Array(B * T);
        src.perSampleNorms(range(B), norms, perTensor);
        for (let i = 0; i < B; i++) {
          let total = 0;
          let off = i * src.paramCount;
          for (let t = 0; t < T; t++) {
            let s = 0;
            for (let p = 0; p < src.tensorSizes[t]; p++) s += g[off + p] ** 2;
            off += src.tensorSizes[t];
            total += s;
            expect(Math.abs(perTensor[i * T + t] - Math.sqrt(s))).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.sqrt(s)));
          }
          expect(Math.abs(norms[i] - Math.sqrt(total))).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.sqrt(total)));
        }
      }),
      { numRuns: 40 },
    );
  });

  it('the weighted sum equals the explicit sum of weighted per-sample gradients (flat and per tensor)', () => {
    fc.assert(
      fc.property(archArb, fc.integer({ min: 1, max: 12 }), fc.integer(), (arch, B, seed) => {
        const { model, X, y, rng } = randomProblem(arch, B, seed);
        const src = new MlpGradientSource(model, X, y);
        const g = materialise(src, B);
        const P = src.paramCount;
        const T = src.tensorSizes.length;
        const w = Float64Array.from({ length: B }, () => rng());
        const wt = Float64Array.from({ length: B * T }, () => rng());
        const expectedFlat = new Float64Array(P);
        const expectedPer = new Float64Array(P);
        for (let i = 0; i < B; i++) {
          let t = 0;
          let end = src.tensorSizes[0];
          for (let p = 0; p < P; p++) {
            if (p === end) end += src.tensorSizes[++t];
            expectedFlat[p] += w[i] * g[i * P + p];
            expectedPer[p] += wt[i * T + t] * g[i * P + p];
          }
        }
        src.perSampleNorms(range(B), new Float64Array(B));
        // Starts from a non-zero vector: the method adds.
        const flat = new Float64Array(P).fill(1);
        src.addWeightedGradientSum(w, flat);
        const per = new Float64Array(P);
        src.addWeightedGradientSum(w, per, wt);
        const scale = Math.max(1, ...expectedFlat.map(Math.abs), ...expectedPer.map(Math.abs));
        expect(maxAbsErr(flat.map((v) => v - 1), expectedFlat)).toBeLessThanOrEqual(1e-12 * scale);
        expect(maxAbsErr(per, expectedPer)).toBeLessThanOrEqual(1e-12 * scale);
      }),
      { numRuns: 40 },
    );
  });
});

describe('parameter scopes', () => {
  const arch: MlpArchitecture = { layerSizes: [5, 8, 6, 2], activation: 'tanh' };
  it('body and head gradients are the matching slices of the full gradient', () => {
    const B = 7;
    const { model, X, y } = randomProblem(arch, B, 7);
    const full = materialise(new MlpGradientSource(model, X, y), B);
    const P = model.paramCount;
    for (const scope of ['body', 'head'] as const) {
      const src = new MlpGradientSource(model, X, y, { scope });
      const r = scope === 'body' ? model.layout.body : model.layout.head;
      expect(src.paramCount).toBe(r.length);
      expect(src.range).toEqual(r);
      const g = materialise(src, B);
      for (let i = 0; i < B; i++) {
        expect(Array.from(g.subarray(i * r.length, (i + 1) * r.length))).toEqual(Array.from(full.subarray(i * P + r.offset, i * P + r.offset + r.length)));
      }
      expect(src.trainableParams().length).toBe(r.length);
      expect(src.trainableParams()[0]).toBe(model.params[r.offset]);
    }
    expect(new MlpGradientSource(model, X, y, { scope: 'head' }).tensorSizes).toEqual([2 * 6, 2]);
  });

  it('a single linear layer has no body to train', () => {
    const { model, X, y } = randomProblem({ layerSizes: [3, 1], activation: 'relu' }, 2, 1);
    expect(() => new MlpGradientSource(model, X, y, { scope: 'body' })).toThrow(/no parameters/);
  });
});

describe('buffers and batches', () => {
  const arch: MlpArchitecture = { layerSizes: [4, 6, 1], activation: 'relu' };

  it('workspace buffers are reused for the same or a smaller batch', () => {
    const { model } = randomProblem(arch, 1, 3);
    const ws = new MlpWorkspace(model.layout, 'float32', 16);
    const before = [...ws.inputs, ...ws.backprops, ws.output];
    ws.ensureCapacity(4);
    ws.ensureCapacity(16);
    expect([...ws.inputs, ...ws.backprops, ws.output]).toEqual(before);
    expect([...ws.inputs, ...ws.backprops, ws.output].every((b, j) => b === before[j])).toBe(true);
    ws.ensureCapacity(17);
    expect(ws.inputs[0] === before[0]).toBe(false);
    expect(ws.capacity).toBeGreaterThanOrEqual(17);
  });

  it('results do not depend on earlier, larger batches in the same buffers', () => {
    const { model, X, y } = randomProblem(arch, 20, 4);
    const a = new MlpGradientSource(model, X, y);
    const b = new MlpGradientSource(model, X, y);
    const idx = Int32Array.from([2, 5, 11]);
    a.perSampleNorms(range(20), new Float64Array(20));
    const na = new Float64Array(3);
    const nb = new Float64Array(3);
    a.perSampleNorms(idx, na);
    b.perSampleNorms(idx, nb);
    expect(Array.from(na)).toEqual(Array.from(nb));
    const sa = new Float64Array(a.paramCount);
    const sb = new Float64Array(b.paramCount);
    a.addWeightedGradientSum(new Float64Array([1, 1, 1]), sa);
    b.addWeightedGradientSum(new Float64Array([1, 1, 1]), sb);
    expect(Array.from(sa)).toEqual(Array.from(sb));
  });

  it('an empty (Poisson) batch adds nothing', () => {
    const { model, X, y } = randomProblem(arch, 5, 5);
    const src = new MlpGradientSource(model, X, y);
    src.perSampleNorms(new Int32Array(0), new Float64Array(0));
    const out = new Float64Array(src.paramCount).fill(2);
    src.addWeightedGradientSum(new Float64Array(0), out);
    expect(out.every((v) => v === 2)).toBe(true);
  });

  it('meanGradient is the mean of the per-sample gradients and returns the mean loss', () => {
    const B = 6;
    const { model, X, y } = randomProblem(arch, B, 6);
    const src = new MlpGradientSource(model, X, y);
    const g = materialise(src, B);
    const mean = new Float64Array(src.paramCount);
    const loss = src.meanGradient(range(B), mean);
    const expected = new Float64Array(src.paramCount);
    for (let i = 0; i < B; i++) for (let p = 0; p < src.paramCount; p++) expected[p] += g[i * src.paramCount + p] / B;
    expect(maxAbsErr(mean, expected)).toBeLessThan(1e-14);
    expect(loss).toBeCloseTo(meanLoss(MSE, model.predict(X, B), y, B, 1), 12);
  });

  it('clear errors for bad indices, missing first pass and wrong buffer sizes', () => {
    const { model, X, y } = randomProblem(arch, 5, 8);
    const src = new MlpGradientSource(model, X, y);
    expect(() => src.addWeightedGradientSum(new Float64Array(1), new Float64Array(src.paramCount))).toThrow(/perSampleNorms first/);
    expect(() => src.perSampleNorms(Int32Array.from([0, 5]), new Float64Array(2))).toThrow(/outside \[0, 5\)/);
    expect(() => src.perSampleNorms(range(3), new Float64Array(2))).toThrow(/normsOut/);
    src.perSampleNorms(range(3), new Float64Array(3));
    expect(() => src.addWeightedGradientSum(new Float64Array(3), new Float64Array(src.paramCount + 1))).toThrow(/paramCount/);
    expect(() => new MlpGradientSource(model, X, y.subarray(1))).toThrow(/y has 4 values/);
    expect(() => new MlpGradientSource(model, Float64Array.from([NaN, 0, 0, 0]), new Float64Array(1))).toThrow(/X\[0\] is not finite/);
  });
});
