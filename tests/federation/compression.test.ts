import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  compressUpdate,
  compressWithErrorFeedback,
  decompressUpdate,
  int8Scale,
  quantizeInt8Stochastic,
  topKIndices,
  type Int8DenseUpdate,
  type Int8TopKUpdate,
} from '../../federation/index.ts';
import { BODY_SHAPES, BODY_SIZE, gaussianVector, seededUniform } from './helpers.ts';

const finiteF32 = fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 });

describe('int8 scale', () => {
  it('is the smallest float32 with 127·s ≥ max|x|', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true, min: 0, max: Math.fround(1e30) }), (m) => {
        const s = int8Scale(m);
        expect(Math.fround(s)).toBe(s);
        expect(s * 127).toBeGreaterThanOrEqual(m);
        if (s > 0) {
          const below = new Float32Array([s]);
          new Uint32Array(below.buffer)[0] -= 1;
          expect(below[0] * 127).toBeLessThan(m);
        }
      }),
    );
  });
  it('rejects a non-finite maximum', () => {
    expect(() => int8Scale(Number.NaN)).toThrow(/maxAbs/);
  });
});

describe('stochastic int8 rounding', () => {
  it('is unbiased: the mean of many roundings is the true value within 5 standard errors', () => {
    const x = Float32Array.of(1, 0.3, -0.77, 0.001, -0.0042, 0.5, -1 / 3);
    const s = int8Scale(1);
    const random = seededUniform(42);
    const R = 20_000;
    const sums = new Float64Array(x.length);
    const q = new Int8Array(x.length);
    for (let r = 0; r < R; r++) {
      quantizeInt8Stochastic(x, s, random, q);
      for (let i = 0; i < x.length; i++) sums[i] += q[i] * s;
    }
    // Each rounding is x/s's floor or ceiling: variance ≤ s²/4, so the mean's std error ≤ s/(2√R).
    const bound = (5 * s) / (2 * Math.sqrt(R));
    for (let i = 0; i < x.length; i++) expect(Math.abs(sums[i] / R - x[i])).toBeLessThan(bound);
  });

  it('would be biased with a fixed u, which the test above would catch', () => {
    // Guard on the test's power: round-half-up of 0.001/s has a bias far above the statistical bound.
    const s = int8Scale(1);
    const q = quantizeInt8Stochastic(Float32Array.of(0.001), s, () => 0.5);
    expect(Math.abs(q[0] * s - 0.001)).toBeGreaterThan((5 * s) / (2 * Math.sqrt(20_000)));
  });

  it('rounds to a neighbouring level: |x − deq| ≤ scale, levels within ±127', () => {
    fc.assert(
      fc.property(fc.array(finiteF32, { minLength: 1, maxLength: 64 }), fc.integer(), (xs, seed) => {
        const x = Float32Array.from(xs);
        const u = compressUpdate(x, [[x.length]], { encoding: 'int8-dense', random: seededUniform(seed) }) as Int8DenseUpdate;
        const deq = decompressUpdate(u);
        const s = u.scales[0];
        for (let i = 0; i < x.length; i++) {
          expect(Math.abs(u.q[i])).toBeLessThanOrEqual(127);
          // float32 storage of q·s adds at most half an ulp of 127·s (2^-17·s).
          expect(Math.abs(x[i] - deq[i])).toBeLessThanOrEqual(s * (1 + 2 ** -16));
        }
      }),
    );
  });

  it('uses one scale per tensor', () => {
    const x = new Float32Array(BODY_SIZE);
    x[0] = 2; // tensor 0
    x[48] = -0.5; // tensor 1 (bias [8])
    const u = compressUpdate(x, BODY_SHAPES, { encoding: 'int8-dense', random: seededUniform(1) }) as Int8DenseUpdate;
    expect([...u.scales]).toEqual([int8Scale(2), int8Scale(0.5), 0, 0]);
    const deq = decompressUpdate(u);
    expect(Math.abs(deq[0] - 2)).toBeLessThanOrEqual(u.scales[0] * (1 + 2 ** -16));
    expect(Math.abs(deq[48] + 0.5)).toBeLessThanOrEqual(u.scales[1] * (1 + 2 ** -16));
    expect(deq.filter((v, i) => i !== 0 && i !== 48 && v !== 0)).toHaveLength(0);
  });

  it('refuses a uniform source outside [0, 1)', () => {
    expect(() => quantizeInt8Stochastic(Float32Array.of(0.5), 0.01, () => 1)).toThrow(/outside \[0, 1\)/);
  });
});

describe('top-k', () => {
  const reference = (xs: Float32Array, k: number): number[] =>
    [...xs.keys()]
      .sort((a, b) => Math.abs(xs[b]) - Math.abs(xs[a]) || a - b)
      .slice(0, k)
      .sort((a, b) => a - b);

  it('keeps exactly the k largest magnitudes (ties to the lower index)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 1, maxLength: 200 }),
        fc.nat(),
        (ints, kRaw) => {
          const xs = Float32Array.from(ints, (v) => v / 4); // many ties on purpose
          const k = kRaw % (xs.length + 1);
          expect([...topKIndices(xs, k)]).toEqual(reference(xs, k));
        },
      ),
    );
  });

  it('per tensor keeps the top of each tensor; global keeps the top of the whole body', () => {
    const x = gaussianVector(BODY_SIZE, 5);
    const per = compressUpdate(x, BODY_SHAPES, { encoding: 'int8-topk', random: seededUniform(2), topK: { scope: 'per-tensor', density: 0.25 } }) as Int8TopKUpdate;
    expect([...per.counts]).toEqual([12, 2, 8, 1]);
    const glob = compressUpdate(x, BODY_SHAPES, { encoding: 'int8-topk', random: seededUniform(2), topK: { scope: 'global', k: 10 } }) as Int8TopKUpdate;
    expect(glob.counts.reduce((a, b) => a + b, 0)).toBe(10);
    const offsets = [0, 48, 56, 88];
    const kept: number[] = [];
    let r = 0;
    glob.counts.forEach((c, t) => {
      for (let j = 0; j < c; j++, r++) kept.push(offsets[t] + glob.indices[r]);
    });
    expect(kept).toEqual(reference(x, 10));
    // Dropped entries decode to 0, kept ones to within one level.
    const deq = decompressUpdate(glob);
    for (let i = 0; i < x.length; i++) {
      if (!kept.includes(i)) expect(deq[i]).toBe(0);
    }
  });

  it('quantizes kept values without bias', () => {
    const x = Float32Array.of(0.9, -0.01, 0.31, 0.002);
    const R = 10_000;
    const random = seededUniform(9);
    const sum = new Float64Array(4);
    for (let r = 0; r < R; r++) {
      const d = decompressUpdate(compressUpdate(x, [[4]], { encoding: 'int8-topk', random, topK: { scope: 'global', k: 3 } }));
      for (let i = 0; i < 4; i++) sum[i] += d[i];
    }
    const s = int8Scale(0.9);
    for (const i of [0, 1, 2]) expect(Math.abs(sum[i] / R - x[i])).toBeLessThan((5 * s) / (2 * Math.sqrt(R)));
    expect(sum[3]).toBe(0);
  });
});

describe('error feedback', () => {
  const opts = { encoding: 'int8-topk' as const, random: seededUniform(3), topK: { scope: 'global' as const, density: 0.1 } };

  it('decoded + new residual = delta + old residual (up to float32 rounding)', () => {
    const delta = gaussianVector(BODY_SIZE, 11);
    const old = gaussianVector(BODY_SIZE, 12, 0.1);
    const { decoded, residual } = compressWithErrorFeedback(delta, BODY_SHAPES, old, opts);
    for (let i = 0; i < BODY_SIZE; i++) {
      const target = Math.fround(delta[i] + old[i]);
      expect(Math.abs(decoded[i] + residual[i] - target)).toBeLessThanOrEqual(Math.abs(target) * 2 ** -23 + 1e-30);
    }
    // Inputs untouched.
    expect(old).toEqual(gaussianVector(BODY_SIZE, 12, 0.1));
  });

  it('telescopes over rounds: Σ decoded + final residual ≈ Σ delta, far closer than without feedback', () => {
    const rounds = 30;
    let residual: Float32Array = new Float32Array(BODY_SIZE);
    const sentEf = new Float64Array(BODY_SIZE);
    const sentPlain = new Float64Array(BODY_SIZE);
    const truth = new Float64Array(BODY_SIZE);
    for (let t = 0; t < rounds; t++) {
      const delta = gaussianVector(BODY_SIZE, 100 + t, 0.01);
      const ef = compressWithErrorFeedback(delta, BODY_SHAPES, residual, opts);
      residual = ef.residual;
      const plain = decompressUpdate(compressUpdate(delta, BODY_SHAPES, opts));
      for (let i = 0; i < BODY_SIZE; i++) {
        sentEf[i] += ef.decoded[i];
        sentPlain[i] += plain[i];
        truth[i] += delta[i];
      }
    }
    let idEf = 0;
    let errEf = 0;
    let errPlain = 0;
    for (let i = 0; i < BODY_SIZE; i++) {
      idEf = Math.max(idEf, Math.abs(sentEf[i] + residual[i] - truth[i]));
      errEf += (sentEf[i] - truth[i]) ** 2;
      errPlain += (sentPlain[i] - truth[i]) ** 2;
    }
    expect(idEf).toBeLessThan(1e-6);
    expect(Math.sqrt(errEf)).toBeLessThan(0.5 * Math.sqrt(errPlain));
  });

  it('refuses a residual of the wrong length', () => {
    expect(() => compressWithErrorFeedback(new Float32Array(BODY_SIZE), BODY_SHAPES, new Float32Array(3), opts)).toThrow(/residual must be a Float32Array of 92/);
  });
});

describe('bad input', () => {
  const rnd = seededUniform(1);
  it('names what was wrong', () => {
    const x = new Float32Array(BODY_SIZE);
    expect(() => compressUpdate(new Float32Array(5), BODY_SHAPES, { encoding: 'float32' })).toThrow(/delta has 5 values .* need 92/);
    x[17] = Number.NaN;
    expect(() => compressUpdate(x, BODY_SHAPES, { encoding: 'float32' })).toThrow(/delta\[17\] is NaN/);
    x[17] = 0;
    expect(() => compressUpdate(x, BODY_SHAPES, { encoding: 'int8-dense' })).toThrow(/needs a uniform random source/);
    expect(() => compressUpdate(x, BODY_SHAPES, { encoding: 'int8-dense', random: rnd, topK: { scope: 'global', k: 1 } })).toThrow(/topK only applies/);
    expect(() => compressUpdate(x, BODY_SHAPES, { encoding: 'int8-topk', random: rnd })).toThrow(/needs topK options/);
    expect(() => compressUpdate(x, BODY_SHAPES, { encoding: 'int8-topk', random: rnd, topK: { scope: 'global', k: 1, density: 0.5 } })).toThrow(/exactly one of k and density/);
    expect(() => compressUpdate(x, [[8, 0]], { encoding: 'float32' })).toThrow(/shapes\[0\]\[1\] must be a positive integer/);
  });

  it('decompress refuses inconsistent top-k data', () => {
    const u: Int8TopKUpdate = { encoding: 'int8-topk', shapes: [[4]], scales: Float32Array.of(1), counts: Uint32Array.of(2), indices: Uint32Array.of(3, 1), q: Int8Array.of(1, 1) };
    expect(() => decompressUpdate(u)).toThrow(/not increasing/);
  });

  it('float32 encoding round-trips exactly', () => {
    const x = gaussianVector(BODY_SIZE, 8);
    expect(decompressUpdate(compressUpdate(x, BODY_SHAPES, { encoding: 'float32' }))).toEqual(x);
  });
});
