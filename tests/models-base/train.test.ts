import { describe, expect, it } from 'vitest';
import { Adam, Mlp, cosineLr, foldTargetScaling, initializeParams, seededRng, trainRegressor } from '../../models/index.ts';

describe('Adam', () => {
  it('takes the bias-corrected first step lr·g/(|g| + eps) and then follows Kingma & Ba', () => {
    const p = new Float32Array([1, -2, 0.5]);
    const adam = new Adam(3, { lr: 0.1 });
    adam.step(p, [0.5, -4, 0]);
    // Step 1: m̂ = g, v̂ = g², so Δ = −lr·sign(g) (and 0 where g = 0).
    expect(Array.from(p)).toEqual([Math.fround(0.9), Math.fround(-1.9), 0.5]);
    // Step 2 with g = 1 on the first coordinate: m = 0.9·0.05 + 0.1 = 0.145, v = 0.999·0.00025 + 0.001 = 0.00124975.
    adam.step(p, [1, 0, 0]);
    const m = 0.145 / (1 - 0.9 ** 2);
    const v = 0.00124975 / (1 - 0.999 ** 2);
    expect(p[0]).toBeCloseTo(0.9 - (0.1 * m) / (Math.sqrt(v) + 1e-8), 6);
    expect(adam.t).toBe(2);
  });

  it('decays weights decoupled from the gradient (AdamW)', () => {
    const p = new Float32Array([2]);
    new Adam(1, { lr: 0.1, weightDecay: 0.5 }).step(p, [0]);
    expect(p[0]).toBeCloseTo(2 * (1 - 0.1 * 0.5), 6);
  });

  it('rejects bad settings and mismatched lengths', () => {
    expect(() => new Adam(2, { lr: 0 })).toThrow(/lr/);
    expect(() => new Adam(2, { lr: 0.1, beta2: 1 })).toThrow(/beta2/);
    expect(() => new Adam(2, { lr: 0.1 }).step(new Float32Array(3), [0, 0, 0])).toThrow(/2 values/);
  });
});

describe('trainRegressor', () => {
  // y = 10 + 3·x0 − 2·x1 on a small grid: learnable by a tiny tanh MLP.
  const n = 200;
  const rng = seededRng(5);
  const X = new Float32Array(n * 2);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    X[2 * i] = 2 * rng() - 1;
    X[2 * i + 1] = 2 * rng() - 1;
    y[i] = 10 + 3 * X[2 * i] - 2 * X[2 * i + 1];
  }
  const fresh = () => {
    const m = new Mlp({ layerSizes: [2, 8, 1], activation: 'tanh' });
    initializeParams(m.layout, m.params, seededRng(9));
    return m;
  };
  const mae = (m: Mlp) => {
    const p = m.predict(X, n);
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.abs(p[i] - y[i]);
    return s / n;
  };

  it('fits, folds the target scaling into the head (outputs in target units), and is deterministic', () => {
    const opts = { epochs: 80, batchSize: 16, lr: 0.01, seed: 3, qatEpochs: 2 };
    const a = fresh();
    const before = mae(a);
    const r = trainRegressor(a, X, y, opts);
    expect(r.targetMean).toBeCloseTo(10, 0);
    expect(mae(a)).toBeLessThan(0.15);
    expect(mae(a)).toBeLessThan(before / 20);
    expect(r.history.filter((h) => h.phase === 'qat')).toHaveLength(2);
    const b = fresh();
    trainRegressor(b, X, y, opts);
    expect(Array.from(b.params)).toEqual(Array.from(a.params));
    // Input noise changes the result but stays deterministic.
    const c = fresh();
    const d = fresh();
    trainRegressor(c, X, y, { ...opts, inputNoise: [0.1, 0.1] });
    trainRegressor(d, X, y, { ...opts, inputNoise: [0.1, 0.1] });
    expect(Array.from(c.params)).toEqual(Array.from(d.params));
    expect(Array.from(c.params)).not.toEqual(Array.from(a.params));
  });

  it('foldTargetScaling maps the head output z to σ·z + μ', () => {
    const m = fresh();
    const z = m.predict(X, 4);
    foldTargetScaling(m, 7, 2);
    const out = m.predict(X, 4);
    for (let i = 0; i < 4; i++) expect(out[i]).toBeCloseTo(2 * z[i] + 7, 5);
  });

  it('cosineLr goes from lr to lr·f', () => {
    expect(cosineLr(1, 0.1, 0, 11)).toBeCloseTo(1, 12);
    expect(cosineLr(1, 0.1, 5, 11)).toBeCloseTo(0.55, 12);
    expect(cosineLr(1, 0.1, 10, 11)).toBeCloseTo(0.1, 12);
  });

  it('names bad inputs', () => {
    expect(() => trainRegressor(fresh(), X, y, { epochs: 1, batchSize: 0, lr: 0.01, seed: 1 })).toThrow(/batchSize/);
    expect(() => trainRegressor(fresh(), X, y.subarray(0, 10), { epochs: 1, batchSize: 4, lr: 0.01, seed: 1 })).toThrow(/X has 400 values/);
    expect(() => trainRegressor(fresh(), X, y, { epochs: 1, batchSize: 4, lr: 0.01, seed: 1, inputNoise: [1] })).toThrow(/inputNoise/);
  });
});
