import { describe, expect, it } from 'vitest';
import { ConnectionGate } from '../../broker/connection-gate.ts';
import { TokenBuckets } from '../../broker/index.ts';

describe('TokenBuckets', () => {
  it('allows a burst, then refills at the rate', () => {
    let now = 0;
    const b = new TokenBuckets({ perSecond: 2, burst: 3, now: () => now });
    expect([b.take('ip'), b.take('ip'), b.take('ip'), b.take('ip')]).toEqual([true, true, true, false]);
    now += 499;
    expect(b.take('ip')).toBe(false);
    now += 1;
    expect(b.take('ip')).toBe(true);
    expect(b.take('ip')).toBe(false);
    now += 60_000;
    expect([b.take('ip'), b.take('ip'), b.take('ip'), b.take('ip')]).toEqual([true, true, true, false]);
  });

  it('keeps one bucket per key', () => {
    const b = new TokenBuckets({ perSecond: 1, burst: 1, now: () => 0 });
    expect(b.take('a')).toBe(true);
    expect(b.take('a')).toBe(false);
    expect(b.take('b')).toBe(true);
  });

  it('forgets refilled buckets so memory stays bounded', () => {
    let now = 0;
    const b = new TokenBuckets({ perSecond: 10, burst: 1, now: () => now });
    for (let i = 0; i < 1000; i++) b.take(`ip-${i}`);
    expect(b.size).toBe(1000);
    now += 1000;
    for (let i = 0; i < 30; i++) b.take('again');
    expect(b.size).toBeLessThan(10);
  });

  it('refuses nonsensical parameters', () => {
    expect(() => new TokenBuckets({ perSecond: 0, burst: 1 })).toThrow(/perSecond must be > 0/);
    expect(() => new TokenBuckets({ perSecond: 1, burst: 0 })).toThrow(/burst must be >= 1/);
  });
});

describe('ConnectionGate', () => {
  it('caps open connections and frees a slot on release', () => {
    const g = new ConnectionGate({ maxConnections: 2, perIpPerSecond: 100, perIpBurst: 100, now: () => 0 });
    expect(g.admit('a')).toEqual({ admitted: true });
    expect(g.admit('b')).toEqual({ admitted: true });
    expect(g.admit('c')).toEqual({ admitted: false, reason: 'max_connections' });
    g.release();
    expect(g.admit('c')).toEqual({ admitted: true });
    expect(g.open).toBe(2);
  });

  it('rate-limits per IP without blocking other IPs', () => {
    const g = new ConnectionGate({ maxConnections: 100, perIpPerSecond: 1, perIpBurst: 2, now: () => 0 });
    expect(g.admit('a').admitted).toBe(true);
    expect(g.admit('a').admitted).toBe(true);
    expect(g.admit('a')).toEqual({ admitted: false, reason: 'rate_limited' });
    expect(g.admit('b').admitted).toBe(true);
  });
});
