/**
 * The messages a shard root and its shards exchange through the broker (broker/README.md, "Shards"):
 * progress (shard → root), close and resume requests (root → shards), and partial sums (shard → root).
 * JSON; the partial sum's Float64Array limbs travel as tagged little-endian base64 (codec.ts), so the
 * root adds exactly the bits the shard summed. Every decoder checks its input with zod and says which
 * field was wrong.
 */
import { z } from 'zod';
import type { PartialSum } from '../../federation/index.ts';
import { fromJsonText, toJsonText } from './codec.ts';
import { formatIssues } from '../schema-errors.ts';

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'expected a shard id');
const round = z.number().int().positive();
const count = z.number().int().min(0);
const counts = z.record(z.string(), count);

export const ShardProgressSchema = z.strictObject({
  v: z.literal(1),
  shard: id,
  round,
  /** Updates accepted (and durable) in the round so far, duplicates of other shards included. */
  accepted: count,
  rejected: counts,
});
export type ShardProgress = z.infer<typeof ShardProgressSchema>;

export const ShardCloseSchema = z.strictObject({
  v: z.literal(1),
  round,
  /** Grows with every request of the round, so answers to an older one are told apart. */
  attempt: z.number().int().positive(),
  /** close: freeze the round and answer with a partial sum; resume: take updates again (too few distinct). */
  action: z.enum(['close', 'resume']),
  /** Per shard, clients whose update another shard also holds: leave them out of the sum. */
  exclude: z.record(id, z.array(z.string())).default({}),
});
export type ShardClose = z.infer<typeof ShardCloseSchema>;

const PartialSumSchema = z
  .strictObject({
    length: count,
    bound: z.number().positive(),
    sumLimbs: z.instanceof(Float64Array, { error: 'expected float64 data ({"$f64": base64})' }),
    weightLimbs: z.instanceof(Float64Array, { error: 'expected float64 data ({"$f64": base64})' }),
    count,
  })
  .refine((p) => p.weightLimbs.length > 0 && p.sumLimbs.length === p.weightLimbs.length * p.length, {
    error: 'sumLimbs must hold weightLimbs.length values per parameter',
    path: ['sumLimbs'],
  });

export const ShardEntrySchema = z.strictObject({
  clientId: z.string().min(1),
  digest: z.string().min(1),
  norm: z.number().min(0),
  bytes: count,
  staleness: count,
});
export type ShardEntry = z.infer<typeof ShardEntrySchema>;

export const ShardPartialSchema = z
  .strictObject({
    v: z.literal(1),
    shard: id,
    round,
    attempt: z.number().int().positive(),
    /** Every update the shard accepted in the round, excluded ones too. */
    entries: z.array(ShardEntrySchema),
    /** The clients left out of `partial` (the close request's exclude list for this shard). */
    excluded: z.array(z.string()),
    rejected: counts,
    /** Σ over entries minus excluded; absent when nothing is left to sum. */
    partial: PartialSumSchema.optional(),
  })
  .refine((m) => (m.partial?.count ?? 0) === m.entries.filter((e) => !m.excluded.includes(e.clientId)).length, {
    error: 'partial.count must equal the entries not excluded',
    path: ['partial', 'count'],
  });
export type ShardPartial = Omit<z.infer<typeof ShardPartialSchema>, 'partial' | 'rejected'> & { rejected: Readonly<Record<string, number>>; partial?: PartialSum };

function decode<T>(schema: z.ZodType<T>, what: string, payload: Uint8Array | string): T {
  let raw: unknown;
  try {
    raw = fromJsonText(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
  } catch (err) {
    throw new Error(`${what}: not JSON (${(err as Error).message})`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw new Error(`${what} is invalid:\n${formatIssues(r.error.issues)}`);
  return r.data;
}

export const encodeShardMessage = (m: ShardProgress | ShardClose | ShardPartial): string => toJsonText(m);
export const decodeShardProgress = (p: Uint8Array | string): ShardProgress => decode(ShardProgressSchema, 'shard progress', p);
export const decodeShardClose = (p: Uint8Array | string): ShardClose => decode(ShardCloseSchema, 'shard close request', p);
export const decodeShardPartial = (p: Uint8Array | string): ShardPartial => decode(ShardPartialSchema, 'shard partial sum', p) as ShardPartial;
