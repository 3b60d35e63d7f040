import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULT_SUM_BOUND,
  coordinateMedian,
  combine,
  fedAdam,
  fedAvg,
  mergePartials,
  normBounding,
  partialSum,
  partialTotals,
  type ClientUpdate,
  type RoundPolicy,
  type ShardableStrategy,
} from '../../federation/index.ts';
import { gaussianVector, seededUniform } from './helpers.ts';

const round: RoundPolicy = { durationMs: 1000, quorum: 1, dp: { minNoiseMultiplier: 1, maxGradNorm: 1, delta: 1e-5 } };
const P = 500;

/** Updates whose scales span five decades, so plain float64 sums depend on the order. */
function makeUpdates(n: number, seed: number): ClientUpdate[] {
  const u = seededUniform(seed);
  return Array.from({ length: n }, (_, k) => ({
    delta: gaussianVector(P, seed * 1000 + k, 10 ** (-4 + 5 * u())),
    weight: 1 + Math.floor(100 * u()),
    clientId: `gw-${k}`,
    staleness: Math.floor(4 * u()),
  }));
}
const updates = makeUpdates(60, 1);
const global = gaussianVector(P, 77);

/** A split of the updates into shards, each shard shuffled. */
const split = fc.record({ shards: fc.integer({ min: 1, max: 6 }), seed: fc.integer() }).map(({ shards, seed }) => {
  const u = seededUniform(seed);
  const order = updates.map((x) => ({ x, key: u() })).sort((a, b) => a.key - b.key).map((e) => e.x);
  const out: ClientUpdate[][] = Array.from({ length: shards }, () => []);
  for (const x of order) out[Math.floor(u() * shards)].push(x);
  return out;
});

describe('sharded aggregation equals one aggregator, bit for bit', () => {
  const strategies: [string, ShardableStrategy<any>][] = [
    ['FedAvg, equal weights', fedAvg({ round })],
    ['FedAvg, declared weights and FedBuff staleness', fedAvg({ round, weighting: 'declared', staleness: {} })],
    ['norm bounding', normBounding({ round, maxNorm: 0.05 })],
  ];
  it.each(strategies)('%s', (_, s) => {
    const single = s.aggregate(global, updates, s.initialState(P)).params;
    fc.assert(
      fc.property(split, (shards) => {
        const partials = shards.map((sh) => s.partial(sh, P));
        expect(s.aggregatePartials(global, partials, s.initialState(P)).params).toEqual(single);
      }),
      { numRuns: 25 },
    );
  });

  it('FedAdam over three rounds: same parameters and same moments', () => {
    const s = fedAdam({ round, serverLearningRate: 0.05, weighting: 'declared' });
    let one = { params: global, state: s.initialState(P) };
    let many = { params: global, state: s.initialState(P) };
    for (let r = 0; r < 3; r++) {
      const batch = makeUpdates(30, 10 + r);
      one = s.aggregate(one.params, batch, one.state);
      const shards = [batch.slice(0, 7).reverse(), batch.slice(7, 8), [], batch.slice(8)];
      many = s.aggregatePartials(many.params, shards.map((sh) => s.partial(sh, P)), many.state);
      expect(many.params).toEqual(one.params);
      expect(many.state).toEqual(one.state);
    }
  });

  it('the data really is order-sensitive for plain float64 sums (so the equality above is not luck)', () => {
    const naive = (xs: readonly ClientUpdate[]) => {
      const s = new Float64Array(P);
      for (const x of xs) for (let i = 0; i < P; i++) s[i] += x.weight * x.delta[i];
      return s;
    };
    const a = naive(updates);
    const b = naive([...updates].reverse());
    expect(a.some((v, i) => v !== b[i])).toBe(true);
    // …while the fixed-grid sum is the same either way, and accurate.
    const fa = partialTotals(partialSum(updates)).sum;
    expect(partialTotals(partialSum([...updates].reverse())).sum).toEqual(fa);
    for (let i = 0; i < P; i++) expect(Math.abs(fa[i] - a[i])).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(a[i])));
  });
});

describe('partial sums', () => {
  it('merge in any tree shape, idle shards included', () => {
    const p = (xs: ClientUpdate[]) => partialSum(xs, { length: P });
    const flat = combine([p(updates)]);
    const tree = combine([mergePartials([p(updates.slice(0, 10)), p([])]), mergePartials([p(updates.slice(10, 40)), p(updates.slice(40))])]);
    expect(tree).toEqual(flat);
    expect(mergePartials([p(updates.slice(0, 10)), p(updates.slice(10))]).count).toBe(60);
  });

  it('combine is the weighted mean Σ wΔ / Σ m', () => {
    const mean = combine([partialSum([{ delta: Float32Array.of(1, 2), weight: 3 }, { delta: Float32Array.of(-1, 0), weight: 1, mass: 2 }])]);
    expect([...mean]).toEqual([2 / 5, 6 / 5]);
  });

  it('refuses what would break exactness, naming it', () => {
    const a = partialSum([{ delta: Float32Array.of(1), weight: 1 }]);
    const b = partialSum([{ delta: Float32Array.of(1), weight: 1 }], { bound: 4 });
    expect(() => mergePartials([a, b])).toThrow(/shards must share one bound/);
    expect(() => partialSum([{ delta: Float32Array.of(2 ** 21), weight: 1, clientId: 'gw-big' }])).toThrow(/client gw-big\) value 0 weighted is 2097152, outside the sum's bound ±1048576/);
    expect(() => partialSum([])).toThrow(/give opts.length/);
    expect(() => combine([partialSum([], { length: 2 })])).toThrow(/total weight of 0 updates is 0/);
    expect(DEFAULT_SUM_BOUND).toBe(2 ** 20);
  });
});

describe('the median does not shard', () => {
  it('median of shard medians differs from the median (documented in the README)', () => {
    const u = (v: number): ClientUpdate => ({ delta: Float32Array.of(v), weight: 1, clientId: `c${v}` });
    const s = coordinateMedian({ round });
    const all = [1, 2, 3, 4, 100].map(u);
    const whole = s.aggregate(Float32Array.of(0), all, {}).params[0];
    const shardMedians = [all.slice(0, 2), all.slice(2)].map((sh) => s.aggregate(Float32Array.of(0), sh, {}).params[0]);
    expect(whole).toBe(3);
    expect((shardMedians[0] + shardMedians[1]) / 2).not.toBe(whole);
  });
});
