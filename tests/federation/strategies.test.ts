import { describe, expect, it } from 'vitest';
import {
  coordinateMedian,
  fedAdam,
  fedAvg,
  inverseSqrtStaleness,
  normBounding,
  trimmedMean,
  type ClientUpdate,
  type RoundPolicy,
} from '../../federation/index.ts';

const round: RoundPolicy = { durationMs: 60_000, quorum: 3, dp: { minNoiseMultiplier: 1.1, maxGradNorm: 1, delta: 1e-5 } };
const up = (values: number[], weight = 1, staleness?: number, clientId = `c${values.join('_')}`): ClientUpdate => ({
  delta: Float32Array.from(values),
  weight,
  clientId,
  ...(staleness === undefined ? {} : { staleness }),
});
const g0 = Float32Array.of(1, 2);

describe('configureRound', () => {
  it('opens a round with deadline, quorum and the DP requirements', () => {
    const s = fedAvg({ round: { ...round, maxStaleness: 2, updateNormBound: 5 } });
    expect(s.configureRound({ roundId: 12, nowMs: 1000 }, s.initialState(2))).toEqual({
      roundId: 12,
      deadlineMs: 61_000,
      quorum: 3,
      dp: { minNoiseMultiplier: 1.1, maxGradNorm: 1, delta: 1e-5 },
      maxStaleness: 2,
      updateNormBound: 5,
      strategy: 'fedavg',
    });
  });

  it('refuses a bad policy at construction, naming the field', () => {
    expect(() => fedAvg({ round: { ...round, quorum: 0 } })).toThrow(/quorum must be a positive integer/);
    expect(() => fedAvg({ round: { ...round, dp: { ...round.dp, delta: 1 } } })).toThrow(/dp.delta must be in \(0, 1\)/);
    expect(() => trimmedMean({ round, trimFraction: 0.5 })).toThrow(/trimFraction must be in \[0, 0.5\)/);
    expect(() => fedAdam({ round, serverLearningRate: 0.1, beta2: 1 })).toThrow(/beta2 must be in \[0, 1\)/);
    expect(() => normBounding({ round, maxNorm: 0 })).toThrow(/maxNorm must be positive/);
  });
});

describe('FedAvg', () => {
  const updates = [up([1, 0], 1000), up([0, 2], 1), up([2, 4], 2)];

  it('equal weights by default: a declared weight changes nothing', () => {
    const s = fedAvg({ round });
    const r = s.aggregate(g0, updates, s.initialState(2));
    expect([...r.params]).toEqual([2, 4]);
    expect(r.metrics.updates).toBe(3);
  });

  it('declared weights: Σ wΔ / Σ w', () => {
    const s = fedAvg({ round, weighting: 'declared' });
    const r = s.aggregate(g0, [up([1, 0], 1), up([0, 2], 1), up([2, 4], 2)], {});
    expect([...r.params]).toEqual([1 + 5 / 4, 2 + 10 / 4]);
  });

  it('server learning rate scales the step; inputs are left alone', () => {
    const s = fedAvg({ round, serverLearningRate: 0.5 });
    const before = updates.map((u) => [...u.delta]);
    expect([...s.aggregate(g0, updates, {}).params]).toEqual([1.5, 3]);
    expect(updates.map((u) => [...u.delta])).toEqual(before);
    expect([...g0]).toEqual([1, 2]);
  });

  it('FedBuff staleness: s(τ) = 1/√(1+τ), divided by the buffer size (or by the discounted weights)', () => {
    expect(inverseSqrtStaleness(3)).toBe(0.5);
    const buffer = [up([1, 0], 1, 0), up([0, 2], 1, 3)];
    const base = fedAvg({ round, staleness: {} }).aggregate(Float32Array.of(0, 0), buffer, {});
    expect([...base.params]).toEqual([0.5, 0.5]);
    expect(base.metrics.meanStaleness).toBe(1.5);
    const disc = fedAvg({ round, staleness: { normalizeBy: 'discounted' } }).aggregate(Float32Array.of(0, 0), buffer, {});
    expect([...disc.params]).toEqual([Math.fround(2 / 3), Math.fround(2 / 3)]);
    const custom = fedAvg({ round, staleness: { discount: (t) => (t > 2 ? 0 : 1) } }).aggregate(Float32Array.of(0, 0), buffer, {});
    expect([...custom.params]).toEqual([0.5, 0]);
  });

  it('names the bad update', () => {
    const s = fedAvg({ round, weighting: 'declared' });
    expect(() => s.aggregate(g0, [up([1, 0]), up([1, 2, 3], 1, undefined, 'gw-x')], {})).toThrow(/update 1 \(client gw-x\) delta has 3 values, the model has 2/);
    expect(() => s.aggregate(g0, [up([1, 0], Number.NaN, undefined, 'gw-y')], {})).toThrow(/client gw-y\) declared weight must be finite/);
    expect(() => s.aggregate(g0, [], {})).toThrow(/no updates/);
    expect(() => s.aggregate(g0, [up([1, 0], 0), up([1, 1], 0)], {})).toThrow(/total weight .* is 0/);
    expect(() => s.aggregate(g0, [up([1, 0], 1, 0.5)], {})).toThrow(/staleness must be a non-negative integer/);
    expect(() => s.aggregate(g0, [up([Number.NaN, 0], 1, undefined, 'gw-z')], {})).toThrow(/client gw-z\) value 0 weighted is NaN/);
  });
});

describe('FedAdam (Reddi et al. 2021, Algorithm 2)', () => {
  it('matches a hand computation over two rounds, carrying m and v in the state', () => {
    const s = fedAdam({ round, serverLearningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
    const st0 = s.initialState(2);
    expect([...st0.v]).toEqual([1e-6, 1e-6]); // v₋₁ = τ²
    const r1 = s.aggregate(Float32Array.of(0, 0), [up([1, -0.5])], st0);
    // m = 0.1·Δ; v = 0.99·τ² + 0.01·Δ²; θ = η·m/(√v + τ)
    expect(r1.state.m[0]).toBeCloseTo(0.1, 15);
    expect(r1.state.v[1]).toBeCloseTo(0.0025 + 0.99e-6, 15);
    expect(r1.params[0]).toBeCloseTo(0.09900505095720291, 7);
    expect(r1.params[1]).toBeCloseTo(-0.09802018851041794, 7);
    const m1 = Float64Array.from(r1.state.m);
    const r2 = s.aggregate(r1.params, [up([0.4, 0.8]), up([0, 0])], r1.state); // mean Δ = [0.2, 0.4]
    expect(r2.state.step).toBe(2);
    // Δ here is float32 (0.4f/2 = 0.2 + 3e-9), hence 8 digits.
    expect(r2.state.m[0]).toBeCloseTo(0.11, 8);
    expect(r2.state.m[1]).toBeCloseTo(-0.005, 8);
    expect(r2.params[0]).toBeCloseTo(0.20632867515087128, 7);
    expect(r2.params[1]).toBeCloseTo(-0.1057310700416565, 7);
    // The state given is never modified.
    expect([...st0.m]).toEqual([0, 0]);
    expect(r1.state.m).toEqual(m1);
  });

  it('refuses a state of the wrong size', () => {
    const s = fedAdam({ round, serverLearningRate: 0.1 });
    expect(() => s.aggregate(g0, [up([1, 1])], s.initialState(3))).toThrow(/Float64Arrays of 2 values/);
  });
});

describe('coordinate-wise median and trimmed mean (Yin et al. 2018)', () => {
  const three = [up([1, 5]), up([2, -1]), up([10, 0])];
  const four = [...three, up([3, 2])];
  const five = [...four, up([100, -100])];

  it('median: middle value, or the mean of the two middle values', () => {
    const s = coordinateMedian({ round });
    expect([...s.aggregate(Float32Array.of(0, 0), three, {}).params]).toEqual([2, 0]);
    expect([...s.aggregate(Float32Array.of(0, 0), four, {}).params]).toEqual([2.5, 1]);
    expect([...s.aggregate(g0, four, {}).params]).toEqual([3.5, 3]);
  });

  it('trimmed mean drops ⌊βn⌋ from each end per coordinate', () => {
    const s = trimmedMean({ round, trimFraction: 0.25 });
    expect([...s.aggregate(Float32Array.of(0, 0), four, {}).params]).toEqual([2.5, 1]);
    const r = s.aggregate(Float32Array.of(0, 0), five, {});
    expect([...r.params]).toEqual([5, Math.fround(1 / 3)]);
    expect(r.metrics.trimmedEachSide).toBe(1);
    expect([...trimmedMean({ round, trimFraction: 0 }).aggregate(Float32Array.of(0, 0), four, {}).params]).toEqual([4, 1.5]);
  });

  it('handles ties and many updates like a sort would', () => {
    const n = 101;
    const updates = Array.from({ length: n }, (_, i) => up([i % 7, -(i % 3), 5], 1, undefined, `c${i}`));
    const sorted = (k: number) => updates.map((u) => u.delta[k]).sort((a, b) => a - b);
    const med = coordinateMedian({ round }).aggregate(new Float32Array(3), updates, {}).params;
    expect([...med]).toEqual([0, 1, 2].map((k) => sorted(k)[50]));
    const tm = trimmedMean({ round, trimFraction: 0.1 }).aggregate(new Float32Array(3), updates, {}).params;
    const expectTm = [0, 1, 2].map((k) => Math.fround(sorted(k).slice(10, 91).reduce((a, b) => a + b, 0) / 81));
    expect([...tm]).toEqual(expectTm);
  });

  it('refuses NaN instead of returning garbage', () => {
    expect(() => coordinateMedian({ round }).aggregate(g0, [up([1, 2]), up([Number.NaN, 0])], {})).toThrow(/update 1 value 0 is NaN/);
  });
});

describe('norm bounding (Sun et al. 2019)', () => {
  it('clips each update to norm M, then averages', () => {
    const s = normBounding({ round, maxNorm: 1 });
    const r = s.aggregate(Float32Array.of(0, 0), [up([3, 4]), up([0.3, 0])], {});
    expect(r.params[0]).toBeCloseTo(0.45, 7);
    expect(r.params[1]).toBeCloseTo(0.4, 7);
    expect(r.metrics.clipped).toBe(1);
    expect(s.name).toBe('norm-bounding');
  });
});

describe('evaluate', () => {
  it('is passed through when the aggregator gives one, absent otherwise', () => {
    expect(fedAvg({ round }).evaluate).toBeUndefined();
    const s = fedAvg({ round, evaluate: (p, roundId) => ({ first: p[0], roundId }) });
    expect(s.evaluate?.(Float32Array.of(4), 9, {})).toEqual({ first: 4, roundId: 9 });
  });
});
