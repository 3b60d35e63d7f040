/**
 * configureRound for every strategy: a round opens now, closes at the deadline or on quorum, and
 * states the DP parameters gateways must use. Checked once, when a strategy is built, so a bad
 * configuration fails at startup naming the field rather than mid-round.
 */
import type { RoundConfig, RoundContext, RoundPolicy } from './types.ts';

export function checkRoundPolicy(policy: RoundPolicy): void {
  if (policy === null || typeof policy !== 'object') throw new RangeError('round policy: missing (give durationMs, quorum and dp)');
  const positive = (v: number, name: string) => {
    if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`round policy: ${name} must be positive and finite (got ${v})`);
  };
  positive(policy.durationMs, 'durationMs');
  if (!Number.isInteger(policy.quorum) || policy.quorum < 1) throw new RangeError(`round policy: quorum must be a positive integer (got ${policy.quorum})`);
  const s = policy.maxStaleness ?? 0;
  if (!Number.isInteger(s) || s < 0) throw new RangeError(`round policy: maxStaleness must be a non-negative integer (got ${s})`);
  if (policy.updateNormBound !== undefined) positive(policy.updateNormBound, 'updateNormBound');
  const dp = policy.dp;
  if (dp === null || typeof dp !== 'object') throw new RangeError('round policy: dp is missing');
  positive(dp.minNoiseMultiplier, 'dp.minNoiseMultiplier');
  positive(dp.maxGradNorm, 'dp.maxGradNorm');
  if (!(dp.delta > 0 && dp.delta < 1)) throw new RangeError(`round policy: dp.delta must be in (0, 1) (got ${dp.delta})`);
  if (dp.maxSampleRate !== undefined && !(dp.maxSampleRate > 0 && dp.maxSampleRate <= 1)) {
    throw new RangeError(`round policy: dp.maxSampleRate must be in (0, 1] (got ${dp.maxSampleRate})`);
  }
}

export function configureFromPolicy(strategy: string, policy: RoundPolicy, ctx: RoundContext): RoundConfig {
  if (!Number.isInteger(ctx.roundId) || ctx.roundId < 0 || ctx.roundId > 0xffffffff) throw new RangeError(`configureRound: roundId must be a u32 (got ${ctx.roundId})`);
  if (!Number.isFinite(ctx.nowMs)) throw new RangeError(`configureRound: nowMs must be finite (got ${ctx.nowMs})`);
  return {
    roundId: ctx.roundId,
    deadlineMs: ctx.nowMs + policy.durationMs,
    quorum: policy.quorum,
    dp: { ...policy.dp },
    maxStaleness: policy.maxStaleness ?? 0,
    ...(policy.updateNormBound === undefined ? {} : { updateNormBound: policy.updateNormBound }),
    strategy,
  };
}
