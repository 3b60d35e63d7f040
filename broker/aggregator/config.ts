/**
 * The aggregator's configuration: the `aggregator:` section of a broker config (in-process), or the
 * file given to `fedwear aggregator --config` (a client of any broker). Strict, and every error names
 * its field. Relative paths are resolved against the config file's folder.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { expected, formatIssues } from '../schema-errors.ts';

const finite = (what: string) => z.number({ error: expected(`expected ${what}`) }).refine(Number.isFinite, { error: expected(`expected ${what}`) });
const positive = (what: string) => finite(`${what} > 0`).refine((x) => x > 0, { error: expected(`expected ${what} > 0`) });
const positiveInt = (what: string) =>
  z.number({ error: expected(`expected ${what} as a whole number > 0`) }).int({ error: expected(`expected ${what} as a whole number > 0`) }).positive({ error: expected(`expected ${what} as a whole number > 0`) });
const nonNegativeInt = (what: string) =>
  z.number({ error: expected(`expected ${what} as a whole number >= 0`) }).int({ error: expected(`expected ${what} as a whole number >= 0`) }).min(0, { error: expected(`expected ${what} as a whole number >= 0`) });
const file = (what: string) => z.string({ error: expected(`expected the path of ${what}`) }).min(1, { error: expected(`expected the path of ${what}`) });
const unit = (what: string) => finite(`${what} in (0, 1]`).refine((x) => x > 0 && x <= 1, { error: expected(`expected ${what} in (0, 1]`) });

/** What gateways must train with (RoundAnnouncement.training). */
const TrainingSchema = z
  .strictObject({
    sampleRate: unit('the Poisson sample rate q'),
    steps: positiveInt('DP-SGD steps per round'),
    noiseMultiplier: positive('a noise multiplier sigma').optional(),
    epsilonPerRound: positive('the epsilon a round may add').optional(),
    maxGradNorm: positive('the per-sample clipping norm C'),
    delta: finite('delta in (0, 1)').refine((d) => d > 0 && d < 1, { error: expected('expected delta in (0, 1)') }),
    accountant: z.enum(['rdp', 'prv'], { error: expected('expected rdp or prv') }).default('rdp'),
    mu: finite('the FedProx mu >= 0').refine((m) => m >= 0, { error: expected('expected the FedProx mu >= 0') }).default(0),
    lr: positive('a local learning rate'),
    optimizer: z.enum(['sgd', 'adam'], { error: expected('expected sgd or adam') }).default('sgd'),
  })
  .superRefine((t, ctx) => {
    if ((t.noiseMultiplier === undefined) === (t.epsilonPerRound === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['noiseMultiplier'], message: 'give exactly one of noiseMultiplier and epsilonPerRound' });
    }
  });

const UpdateSchema = z.strictObject({
  encodings: z
    .array(z.enum(['float32', 'int8-dense', 'int8-topk'], { error: expected('expected float32, int8-dense or int8-topk') }), { error: expected('expected a list of encodings') })
    .min(1, { error: expected('expected at least one encoding') })
    .default(['int8-dense', 'int8-topk', 'float32']),
  normBound: positive('the L2 bound on an update'),
  maxBytes: positiveInt('the largest envelope in bytes').default(64 * 1024),
  topKDensity: unit('the top-k density').optional(),
});

const StrategySchema = z.discriminatedUnion(
  'name',
  [
    z.strictObject({ name: z.literal('fedavg'), serverLearningRate: positive('a server learning rate').default(1) }),
    z.strictObject({
      name: z.literal('fedadam'),
      serverLearningRate: positive('a server learning rate'),
      beta1: finite('beta1 in [0, 1)').refine((b) => b >= 0 && b < 1, { error: expected('expected beta1 in [0, 1)') }).default(0.9),
      beta2: finite('beta2 in [0, 1)').refine((b) => b >= 0 && b < 1, { error: expected('expected beta2 in [0, 1)') }).default(0.99),
      tau: positive('tau').default(1e-3),
    }),
    z.strictObject({ name: z.literal('norm-bounding'), maxNorm: positive('the clip norm M'), serverLearningRate: positive('a server learning rate').default(1) }),
    z.strictObject({ name: z.literal('coordinate-median'), serverLearningRate: positive('a server learning rate').default(1) }),
    z.strictObject({
      name: z.literal('trimmed-mean'),
      trimFraction: finite('trimFraction in [0, 0.5)').refine((b) => b >= 0 && b < 0.5, { error: expected('expected trimFraction in [0, 0.5)') }),
      serverLearningRate: positive('a server learning rate').default(1),
    }),
  ],
  {
    error: (iss) => {
      const name = iss.input !== null && typeof iss.input === 'object' ? (iss.input as { name?: unknown }).name : iss.input;
      return `expected one of fedavg, fedadam, norm-bounding, coordinate-median, trimmed-mean, got ${JSON.stringify(name)}`;
    },
  },
);

const RoundSchema = z.strictObject({
  /** From opening to deadline. */
  durationMs: positiveInt('the round duration in ms').default(60_000),
  /** Sync mode: accepted updates that close the round early. */
  quorum: positiveInt('the quorum').default(10),
  /** At the deadline, fewer accepted updates than this extend the round instead of closing it. */
  minUpdates: positiveInt('the fewest updates a round may close with').default(1),
});

const BufferedSchema = z.strictObject({
  /** FedBuff's K: aggregate every K accepted updates. */
  bufferSize: positiveInt('the buffer size K'),
  /** Rounds behind the open one an update may be and still count (staleness-weighted). */
  maxStaleness: nonNegativeInt('the staleness window').default(2),
});

const AuditSchema = z.strictObject({
  enabled: z.boolean({ error: expected('expected true or false') }).default(true),
  /** Reject updates ('privacy-audit') from users whose ledger is faulty or over budget. */
  refuseFaultyUsers: z.boolean({ error: expected('expected true or false') }).default(false),
  /**
   * How long (ms) a budget summary may name an earlier head of its ledger before that is the fault
   * budget-stale: gateways publish each entry and then the summary, so it is briefly behind.
   */
  budgetGraceMs: nonNegativeInt('the budget grace period in ms').default(30_000),
});

const shardId = z
  .string({ error: expected('expected a shard id (1-64 of A-Z a-z 0-9 _ . -, starting with a letter or digit)') })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, { error: expected('expected a shard id (1-64 of A-Z a-z 0-9 _ . -, starting with a letter or digit)') });

/** Sharded aggregation (broker/README.md, "Shards"): this process is the root or one shard. */
const ShardsSchema = z.strictObject({
  role: z.enum(['root', 'shard'], { error: expected('expected root or shard') }),
  /** A shard's id: its client id is `<username>:<id>`, its topics `shards/<id>/...`. */
  id: shardId.optional(),
  /** The root: the shards that must answer every close request. */
  expect: z.array(shardId, { error: expected('expected a list of shard ids') }).min(1, { error: expected('expected at least one shard id') }).optional(),
  /** The MQTT 5 shared subscription group the shards take updates from. */
  group: shardId.default('fedwear-aggregators'),
});

/** Why a config cannot be sharded, as (field, message) pairs; empty when it can. */
export function shardingProblems(c: { mode: string; strategy: { name: string }; audit: { refuseFaultyUsers: boolean }; shards?: { role: string; id?: string; expect?: readonly string[] } }): Array<{ path: string[]; message: string }> {
  const s = c.shards;
  if (!s) return [];
  const out: Array<{ path: string[]; message: string }> = [];
  if (c.strategy.name === 'coordinate-median' || c.strategy.name === 'trimmed-mean') {
    out.push({ path: ['strategy', 'name'], message: `${c.strategy.name} is not a sum, so it cannot be sharded exactly; use fedavg, fedadam or norm-bounding with shards` });
  }
  if (c.mode !== 'sync') out.push({ path: ['mode'], message: 'shards run sync rounds only (buffered mode is not sharded yet)' });
  if (c.audit.refuseFaultyUsers) out.push({ path: ['audit', 'refuseFaultyUsers'], message: "shards do not see the privacy audit (the root runs it), so they cannot refuse a faulty user's updates" });
  if (s.role === 'shard' && s.id === undefined) out.push({ path: ['shards', 'id'], message: 'a shard needs its id' });
  if (s.role === 'root') {
    if (!s.expect?.length) out.push({ path: ['shards', 'expect'], message: 'the root needs the ids of the shards it waits for' });
    else if (new Set(s.expect).size !== s.expect.length) out.push({ path: ['shards', 'expect'], message: `lists a shard twice: ${s.expect.join(', ')}` });
  }
  return out;
}

export const AggregatorConfigSchema = z
  .strictObject({
    /** Journal, round state and the auditor's copies of the ledgers. */
    dataDir: file('the aggregator data folder').default('aggregator-data'),
    /** The starting global model: a models/ directory (manifest.json, model.onnx, params.json). */
    modelDir: file('the base model directory'),
    /** Public keys come from here. In-process it defaults to the broker's credentialsFile. */
    credentialsFile: file('the credentials file').optional(),
    mode: z.enum(['sync', 'buffered'], { error: expected('expected sync or buffered') }).default('sync'),
    round: RoundSchema.default(RoundSchema.parse({})),
    buffered: BufferedSchema.optional(),
    strategy: StrategySchema.default({ name: 'fedavg', serverLearningRate: 1 }),
    training: TrainingSchema,
    update: UpdateSchema,
    audit: AuditSchema.default(AuditSchema.parse({})),
    shards: ShardsSchema.optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: expected('expected one of fatal, error, warn, info, debug, trace, silent') }).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.mode === 'buffered' && !c.buffered) ctx.addIssue({ code: 'custom', path: ['buffered'], message: 'buffered mode needs buffered: { bufferSize }' });
    if (c.mode === 'sync' && c.buffered) ctx.addIssue({ code: 'custom', path: ['buffered'], message: 'only for mode: buffered' });
    if (c.round.minUpdates > c.round.quorum && c.mode === 'sync') ctx.addIssue({ code: 'custom', path: ['round', 'minUpdates'], message: `must not exceed the quorum (${c.round.quorum})` });
    for (const p of shardingProblems(c)) ctx.addIssue({ code: 'custom', ...p });
  });

export type AggregatorConfig = z.infer<typeof AggregatorConfigSchema>;
export type AggregatorConfigInput = z.input<typeof AggregatorConfigSchema>;
export type StrategyConfig = AggregatorConfig['strategy'];
export type ShardsConfig = NonNullable<AggregatorConfig['shards']>;

/**
 * The config with a shard role given on the command line (`--root`, `--shard <id>`): checked again as
 * a whole, so a non-shardable strategy is refused naming its field whichever way the role came.
 */
export function withShardRole(c: AggregatorConfig, role: { role: 'root' | 'shard'; id?: string; expect?: string[] }, source = 'aggregator config'): AggregatorConfig {
  const shards = { ...c.shards, ...role, ...(role.expect === undefined && c.shards?.expect ? { expect: c.shards.expect } : {}) };
  if (role.role === 'root') delete (shards as { id?: string }).id;
  return parseAggregatorConfig({ ...c, shards }, process.cwd(), source);
}

/** Validates a parsed config; `baseDir` anchors relative paths. `source` names it in errors. */
export function parseAggregatorConfig(raw: unknown, baseDir = process.cwd(), source = 'aggregator config'): AggregatorConfig {
  const r = AggregatorConfigSchema.safeParse(raw ?? {});
  if (!r.success) throw new Error(`invalid ${source}:\n${formatIssues(r.error.issues)}`);
  return resolveAggregatorPaths(r.data, baseDir);
}

export function resolveAggregatorPaths(c: AggregatorConfig, baseDir: string): AggregatorConfig {
  const abs = (p: string): string => path.resolve(baseDir, p);
  return { ...c, dataDir: abs(c.dataDir), modelDir: abs(c.modelDir), credentialsFile: c.credentialsFile && abs(c.credentialsFile) };
}

/** Reads a YAML or JSON file (`fedwear aggregator --config`). */
export function loadAggregatorConfig(file: string): AggregatorConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read aggregator config ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = path.extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`aggregator config ${file} does not parse: ${(err as Error).message}`);
  }
  return parseAggregatorConfig(raw, path.dirname(path.resolve(file)), `aggregator config ${file}`);
}
