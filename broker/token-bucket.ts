/**
 * Per-key token buckets (one key per client IP): each connection attempt takes a token, tokens
 * refill at `perSecond` up to `burst`. The clock is injected so the arithmetic is testable without waiting.
 *
 * Refills measure elapsed time on a monotonic clock by default (performance.now): the wall clock can
 * jump (NTP, a board booting at 1970 before its RTC is set). Whatever clock is injected, time that
 * runs backwards refills nothing, so a backward jump costs at most the refill it hides and never
 * drives a bucket negative (which locked a client out for as long as the jump); a forward jump
 * refills at most to `burst`, as the same idle time would.
 */

export interface TokenBucketOptions {
  perSecond: number;
  burst: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  #buckets = new Map<string, Bucket>();
  #takesSincePrune = 0;

  constructor({ perSecond, burst, now = () => performance.now() }: TokenBucketOptions) {
    if (!(perSecond > 0)) throw new RangeError(`perSecond must be > 0, got ${perSecond}`);
    if (!(burst >= 1)) throw new RangeError(`burst must be >= 1, got ${burst}`);
    this.#perMs = perSecond / 1000;
    this.#burst = burst;
    this.#now = now;
  }

  /** Takes one token for `key`; false when the bucket is empty (the attempt is over the rate). */
  take(key: string): boolean {
    const now = this.#now();
    if (++this.#takesSincePrune >= 1024) this.#prune(now);
    const b = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    b.tokens = Math.min(this.#burst, b.tokens + Math.max(0, now - b.at) * this.#perMs);
    b.at = now;
    this.#buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Keys currently tracked (a full bucket is forgotten at the next prune). */
  get size(): number {
    return this.#buckets.size;
  }

  // A bucket that has refilled completely is indistinguishable from a new one: drop it to bound memory.
  #prune(now: number): void {
    this.#takesSincePrune = 0;
    for (const [key, b] of this.#buckets) {
      if (b.tokens + Math.max(0, now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(key);
    }
  }
}
