/**
 * Sharding's pure parts: the root's combination equals the single aggregator's for any split (FedAvg,
 * norm bounding, FedAdam), copies held by two shards are left out once, the shard messages round-trip
 * bit for bit and refuse bad input by field, and configs that cannot be sharded name the field.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  aggregateShards,
  buildStrategy,
  decodeShardClose,
  decodeShardPartial,
  decodeShardProgress,
  encodeShardMessage,
  formatTopic,
  parseTopic,
  topicFilters,
  topics,
  followsPlan,
  isShardable,
  loadBaseModel,
  parseAggregatorConfig,
  planExclusions,
  publishModel,
  RoundEngine,
  withShardRole,
  type AcceptedUpdate,
  type AggregatorConfigInput,
  type BaseModel,
  type EngineOptions,
  type ShardPartial,
} from '../../broker/index.ts';
import type { ShardableStrategy } from '../../federation/index.ts';
import { runCli } from '../helpers/run-cli.ts';
import { aggregatorConfig, deltaFor, makeGateways, seal } from './helpers.ts';

const gws = makeGateways(9);
const keyOf = new Map(gws.map((g) => [g.username, g.publicKey]));
let base: BaseModel;
beforeAll(async () => {
  base = await loadBaseModel(aggregatorConfig('/tmp').modelDir as string);
});

function setup(over: Partial<AggregatorConfigInput>): { opts: EngineOptions; engine: RoundEngine; strategy: ShardableStrategy<unknown>; updates: AcceptedUpdate[] } {
  const config = parseAggregatorConfig(aggregatorConfig('/tmp/unused', { round: { quorum: 9, durationMs: 60_000 }, ...over }));
  const strategy = buildStrategy(config);
  if (!isShardable(strategy)) throw new Error('not shardable');
  const opts: EngineOptions = { config, spec: base.spec, strategy, publicKeyOf: (id) => keyOf.get(id), modelSha256Of: (m) => publishModel(base.spec, m).manifest.onnx.sha256 };
  const engine = new RoundEngine(opts, RoundEngine.initialState(opts, base.model, 1_000));
  const updates = gws.map((g, i) => {
    // Some large updates, so norm bounding clips.
    const j = engine.judge(seal(g, deltaFor(40 + i, i % 3 === 0 ? 0.2 : 0.01), { round: 1, modelVersion: 'base-1' }), g.username);
    if (!j.ok) throw new Error(j.detail);
    engine.accept(j.update);
    return j.update;
  });
  return { opts, engine, strategy, updates };
}

function answerOf(shard: string, strategy: ShardableStrategy<unknown>, updates: readonly AcceptedUpdate[], exclude: readonly string[] = []): ShardPartial {
  const kept = updates.filter((u) => !exclude.includes(u.clientId));
  return {
    v: 1,
    shard,
    round: 1,
    attempt: 1,
    entries: updates.map((u) => ({ clientId: u.clientId, digest: u.digest, norm: u.norm, bytes: u.bytes, staleness: u.staleness })),
    excluded: updates.filter((u) => exclude.includes(u.clientId)).map((u) => u.clientId),
    rejected: {},
    ...(kept.length ? { partial: strategy.partial(kept.map((u) => ({ delta: u.delta, weight: 1, clientId: u.clientId, staleness: u.staleness })), base.spec.bodyLength) } : {}),
  };
}

describe('the root combines shards into the single aggregator\'s model', () => {
  const strategies: Array<[string, AggregatorConfigInput['strategy']]> = [
    ['fedavg', { name: 'fedavg' }],
    ['norm-bounding', { name: 'norm-bounding', maxNorm: 0.5 }],
    ['fedadam', { name: 'fedadam', serverLearningRate: 0.01 }],
  ];
  for (const [name, strategy] of strategies) {
    it(`${name}: bit for bit, for any split into shards (through the wire format)`, () => {
      const s = setup({ strategy });
      const single = s.engine.aggregate(5_000, 'quorum');
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: gws.length, maxLength: gws.length }), (assign) => {
          const answers = [0, 1, 2, 3].map((k) => decodeShardPartial(encodeShardMessage(answerOf(`s${k}`, s.strategy, s.updates.filter((_, i) => assign[i] === k)))));
          const out = aggregateShards(s.opts, s.strategy, s.engine.state, answers, {}, 5_000, 'quorum');
          expect(Buffer.from(out.next.model.params.buffer).equals(Buffer.from(single.next.model.params.buffer))).toBe(true);
          expect(out.next.strategyState).toEqual(single.next.strategyState);
          expect(out.next.round).toEqual(single.next.round);
          expect(out.metrics).toMatchObject({ accepted: gws.length, bytes: single.metrics.bytes, newModelVersion: 'global-1', strategy: single.metrics.strategy });
        }),
        { numRuns: 15 },
      );
    });
  }
});

describe('copies held by two shards', () => {
  it('keeps one copy per client, the same whichever shard reports first, and names duplicate vs replay', () => {
    const s = setup({});
    const [u0, u1, u2] = s.updates;
    // A different envelope of gw-1 for the same round: a replay.
    const j = s.engine.judge(seal(gws[1], deltaFor(999), { round: 1, modelVersion: 'base-1', timestampMs: 1 }), gws[1].username);
    expect(j).toMatchObject({ ok: false, reason: 'replay' }); // one aggregator refuses it; two shards may each accept one
    const replay: AcceptedUpdate = { ...u1, digest: u1.digest === 'f'.repeat(64) ? '0' : 'f'.repeat(64) };
    const a = answerOf('a', s.strategy, [u0, u1]);
    const b = answerOf('b', s.strategy, [u0, u2]);
    const c = answerOf('c', s.strategy, [replay]);
    const plan = planExclusions([a, b, c]);
    const plan2 = planExclusions([c, b, a]);
    expect(plan2).toEqual(plan);
    expect(plan.rejected).toEqual({ duplicate: 1, replay: 1 });
    expect(plan.exclude.b).toEqual([gws[0].username]);
    expect(Object.values(plan.exclude).flat().sort()).toEqual([gws[0].username, gws[1].username].sort());
    expect(followsPlan([a, b, c], plan)).toBe(false);
    const applied = [a, b, c].map((x) => answerOf(x.shard, s.strategy, x === a ? [u0, u1] : x === b ? [u0, u2] : [replay], plan.exclude[x.shard] ?? []));
    expect(followsPlan(applied, plan)).toBe(true);
    // Three distinct clients counted, each once: the model of u0, u1 (or its replay), u2.
    const out = aggregateShards(s.opts, s.strategy, s.engine.state, applied, plan.rejected, 5_000, 'quorum');
    expect(out.metrics.accepted).toBe(3);
    expect(out.metrics.rejected).toEqual({ duplicate: 1, replay: 1 });
  });
});

describe('shard topics', () => {
  it('build, parse and format the shard topics; ids are checked', () => {
    expect(topics.shardProgress('a')).toBe('fedwear/v1/shards/a/progress');
    expect(parseTopic(topics.shardPartial('b-2'))).toEqual({ kind: 'shard-partial', shard: 'b-2' });
    expect(parseTopic(topics.shardsClose())).toEqual({ kind: 'shards-close' });
    for (const t of [topics.shardProgress('x'), topics.shardPartial('x'), topics.shardsClose()]) expect(formatTopic(parseTopic(t)!)).toBe(t);
    expect(parseTopic('fedwear/v1/shards/x/other')).toBeNull();
    expect(topicFilters.sharedUpdates('fedwear-aggregators')).toBe('$share/fedwear-aggregators/fedwear/v1/updates/+');
    expect(() => topics.shardProgress('a/b')).toThrow(/shard id "a\/b" is not usable in a topic/);
  });
});

describe('shard messages', () => {
  it('refuse bad input naming the field', () => {
    expect(() => decodeShardProgress('{"v":1,"shard":"a","round":0,"accepted":1,"rejected":{}}')).toThrow(/shard progress is invalid:\n\s+round:/);
    expect(() => decodeShardClose('{"v":1,"round":1,"attempt":1,"action":"stop"}')).toThrow(/action/);
    expect(() => decodeShardClose('not json')).toThrow(/shard close request: not JSON/);
    const s = setup({});
    const good = JSON.parse(encodeShardMessage(answerOf('a', s.strategy, s.updates.slice(0, 2)))) as { partial: { sumLimbs: unknown; count: number } };
    expect(() => decodeShardPartial(JSON.stringify({ ...good, partial: { ...good.partial, sumLimbs: [1, 2] } }))).toThrow(/partial\.sumLimbs: expected float64 data/);
    expect(() => decodeShardPartial(JSON.stringify({ ...good, partial: { ...good.partial, count: 5 } }))).toThrow(/partial\.count: partial\.count must equal the entries not excluded/);
  });
});

describe('sharding config', () => {
  const cfg = (over: Partial<AggregatorConfigInput>) => parseAggregatorConfig(aggregatorConfig('/tmp/unused', over));
  it('refuses a strategy that is not a sum, naming strategy.name, whichever way the role comes', () => {
    expect(() => cfg({ strategy: { name: 'coordinate-median' }, shards: { role: 'root', expect: ['a'] } })).toThrow(/strategy\.name: coordinate-median is not a sum/);
    expect(() => withShardRole(cfg({ strategy: { name: 'trimmed-mean', trimFraction: 0.1 } }), { role: 'shard', id: 'a' })).toThrow(/strategy\.name: trimmed-mean is not a sum/);
  });
  it('refuses buffered mode, a shard without an id, a root without shards, a bad id', () => {
    expect(() => cfg({ mode: 'buffered', buffered: { bufferSize: 3 }, shards: { role: 'root', expect: ['a'] } })).toThrow(/mode: shards run sync rounds only/);
    expect(() => cfg({ shards: { role: 'shard' } })).toThrow(/shards\.id: a shard needs its id/);
    expect(() => cfg({ shards: { role: 'root' } })).toThrow(/shards\.expect: the root needs/);
    expect(() => cfg({ shards: { role: 'root', expect: ['a', 'a'] } })).toThrow(/shards\.expect: lists a shard twice/);
    expect(() => cfg({ shards: { role: 'shard', id: 'no/slash' } })).toThrow(/shards\.id: expected a shard id/);
    expect(cfg({ shards: { role: 'shard', id: 'a' } }).shards).toEqual({ role: 'shard', id: 'a', group: 'fedwear-aggregators' });
  });
  it('`fedwear aggregator --shard` with the median exits with the field named', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const os = await import('node:os');
    const { stringify } = await import('yaml');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-shards-cfg-'));
    try {
      const file = path.join(dir, 'agg.yaml');
      fs.writeFileSync(file, stringify(aggregatorConfig(dir, { strategy: { name: 'coordinate-median' }, credentialsFile: 'credentials.yaml' })));
      const r = await runCli(['aggregator', '--broker', 'mqtt://127.0.0.1:1', '--config', file, '--shard', 'a']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/strategy\.name: coordinate-median is not a sum/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
