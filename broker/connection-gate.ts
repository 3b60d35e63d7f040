/**
 * Admission before any MQTT byte is read: a cap on open connections across all listeners and a
 * per-IP connection rate. Pure bookkeeping; the listeners destroy the sockets it turns away.
 */
import { TokenBuckets } from './token-bucket.ts';

export type Admission = { admitted: true } | { admitted: false; reason: 'max_connections' | 'rate_limited' };

export interface ConnectionGateOptions {
  maxConnections: number;
  perIpPerSecond: number;
  perIpBurst: number;
  now?: () => number;
}

export class ConnectionGate {
  readonly #max: number;
  readonly #buckets: TokenBuckets;
  #open = 0;

  constructor(opts: ConnectionGateOptions) {
    this.#max = opts.maxConnections;
    this.#buckets = new TokenBuckets({ perSecond: opts.perIpPerSecond, burst: opts.perIpBurst, now: opts.now });
  }

  get open(): number {
    return this.#open;
  }

  /** On admission the caller owns one slot and must `release()` it when the socket closes. */
  admit(ip: string): Admission {
    if (this.#open >= this.#max) return { admitted: false, reason: 'max_connections' };
    if (!this.#buckets.take(ip)) return { admitted: false, reason: 'rate_limited' };
    this.#open++;
    return { admitted: true };
  }

  release(): void {
    if (this.#open > 0) this.#open--;
  }
}
