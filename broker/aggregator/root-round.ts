/**
 * The shard root's pure core: which copies to leave out when two shards hold an update of the same
 * client, and the next model and round from the shards' partial sums. It is RoundEngine.aggregate
 * with the strategy's aggregatePartials in place of aggregate (both end in round-engine's
 * closeRound), so a root with any number of shards publishes the model one aggregator would (partial-sum.ts makes
 * the sum exact whatever the split).
 */
import { SeenUpdates, type ShardableStrategy, type Strategy } from '../../federation/index.ts';
import { closeRound, type EngineOptions, type EngineState, type RoundOutcome } from './round-engine.ts';
import type { ShardPartial } from './shard-messages.ts';

export function isShardable(s: Strategy<unknown>): s is ShardableStrategy<unknown> {
  const x = s as Partial<ShardableStrategy<unknown>>;
  return typeof x.partial === 'function' && typeof x.aggregatePartials === 'function';
}

export interface ExclusionPlan {
  /** Per shard, the clients it must leave out. */
  readonly exclude: Record<string, string[]>;
  /** Copies left out, by reason: `duplicate` (same envelope), `replay` (another update for the same round). */
  readonly rejected: Record<string, number>;
}

/**
 * One copy per client. Shards keep their own replay sets, so a redelivered or replayed update can
 * be accepted by two shards; exactly one copy counts. The kept copy is the smallest digest (then the
 * smallest shard id): a rule every root restart reproduces, where arrival order across shards is not
 * knowable. For a true redelivery (same digest) that is the same update a single aggregator keeps.
 */
export function planExclusions(answers: readonly ShardPartial[]): ExclusionPlan {
  const holders = new Map<string, Array<{ shard: string; digest: string }>>();
  for (const a of answers) {
    for (const e of a.entries) {
      let h = holders.get(e.clientId);
      if (!h) holders.set(e.clientId, (h = []));
      h.push({ shard: a.shard, digest: e.digest });
    }
  }
  const exclude: Record<string, string[]> = {};
  const rejected: Record<string, number> = {};
  for (const [clientId, h] of holders) {
    if (h.length < 2) continue;
    h.sort((x, y) => (x.digest < y.digest ? -1 : x.digest > y.digest ? 1 : x.shard < y.shard ? -1 : x.shard > y.shard ? 1 : 0));
    const kept = h[0];
    for (const copy of h.slice(1)) {
      (exclude[copy.shard] ??= []).push(clientId);
      const reason = copy.digest === kept.digest ? 'duplicate' : 'replay';
      rejected[reason] = (rejected[reason] ?? 0) + 1;
    }
  }
  for (const list of Object.values(exclude)) list.sort();
  return { exclude, rejected };
}

/** True when every answer left out exactly what the plan says for its shard. */
export function followsPlan(answers: readonly ShardPartial[], plan: ExclusionPlan): boolean {
  return answers.every((a) => {
    const want = plan.exclude[a.shard] ?? [];
    const got = [...a.excluded].sort();
    return want.length === got.length && want.every((c, i) => c === got[i]);
  });
}

export function addCounts(...all: ReadonlyArray<Readonly<Record<string, number>>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of all) for (const [k, n] of Object.entries(m)) out[k] = (out[k] ?? 0) + n;
  return out;
}

/**
 * The next engine state and the round's metrics from the shards' answers (all for the open round,
 * following one exclusion plan). `rejected` is the round's rejections: the shards' plus the plan's.
 */
export function aggregateShards(
  opts: EngineOptions,
  strategy: ShardableStrategy<unknown>,
  state: EngineState,
  answers: readonly ShardPartial[],
  rejected: Readonly<Record<string, number>>,
  nowMs: number,
  closedBy: 'quorum' | 'deadline',
): RoundOutcome {
  const { spec } = opts;
  const s = state;
  const partials = answers.flatMap((a) => (a.partial ? [a.partial] : []));
  const kept = answers.flatMap((a) => a.entries.filter((e) => !a.excluded.includes(e.clientId)));
  if (partials.length === 0 || kept.length === 0) throw new Error(`round ${s.round.id}: no accepted update to aggregate`);
  for (const p of partials) {
    if (p.length !== spec.bodyLength) throw new Error(`round ${s.round.id}: a partial sum covers ${p.length} parameters, the model body has ${spec.bodyLength}`);
  }
  const body = s.model.params.slice(0, spec.bodyLength);
  const result = strategy.aggregatePartials(body, partials, s.strategyState);
  // Sync rounds only (config.ts refuses buffered shards): nothing older than the next round is kept.
  const outcome = closeRound(opts, s, result, kept, { nowMs, closedBy, rejected, maxStaleness: 0, seen: SeenUpdates.fromJSON(s.seen) });
  return { ...outcome, strategyMetrics: { ...result.metrics, shards: answers.length } };
}
