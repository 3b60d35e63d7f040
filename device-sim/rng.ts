/**
 * Seeded pseudo-random numbers for the simulator. NOT for cryptography: DP noise lives in privacy/
 * and uses node:crypto.
 *
 * Generator: sfc32, Chris Doty-Humphrey's Small Fast Chaotic PRNG (PractRand suite), 128-bit state,
 * 32-bit output. Seeds go through splitmix32 so nearby seeds give unrelated streams.
 * Every consumer forks its own stream by label (`rng.fork('sensor')` or `makeRng(seed, 'sensor', id)`),
 * so adding a draw in one part of the model does not reshuffle every other part.
 */

export type SeedPart = number | string;

/** 32-bit hash of a list of seed parts (murmur3-style mixing over their string forms). */
export function hashSeed(...parts: readonly SeedPart[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    const s = typeof part === 'number' ? `n${numberKey(part)}` : `s${part}`;
    for (let i = 0; i < s.length; i++) {
      h = Math.imul(h ^ s.charCodeAt(i), 0x5bd1e995);
      h ^= h >>> 15;
    }
    // Separator, so ('ab','c') and ('a','bc') differ.
    h = Math.imul(h ^ 0x1f, 0x5bd1e995);
    h ^= h >>> 13;
  }
  return fmix32(h);
}

function numberKey(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`seed part must be a finite number, got ${n}`);
  return String(n);
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function splitmix32(state: number): [next: number, out: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare = NaN;

  constructor(seed: number) {
    let s = seed | 0;
    const out: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, v] = splitmix32(s);
      s = next;
      out.push(v);
    }
    [this.a, this.b, this.c, this.d] = out as [number, number, number, number];
    // Discard the warm-up outputs sfc32's author recommends.
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** Uniform uint32. */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.nextU32() / 4294967296;
  }

  uniform(min: number, max: number): number {
    return min + (max - min) * this.float();
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  bernoulli(p: number): boolean {
    return this.float() < p;
  }

  /** Standard normal by Box–Muller (Box & Muller 1958), caching the second variate. */
  normal(mean = 0, sd = 1): number {
    if (!Number.isNaN(this.spare)) {
      const z = this.spare;
      this.spare = NaN;
      return mean + sd * z;
    }
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  }

  /** Normal clipped to [min, max] by clamping (only used where the tails are rare anyway). */
  normalClamped(mean: number, sd: number, min: number, max: number): number {
    return Math.min(max, Math.max(min, this.normal(mean, sd)));
  }

  /** exp(N(mu, sigma)). */
  lognormal(mu: number, sigma: number): number {
    return Math.exp(this.normal(mu, sigma));
  }

  /** Log-normal with mean 1 and log-SD sigma (so SD ≈ sigma for small sigma): a multiplicative factor. */
  factor(sigma: number): number {
    return Math.exp(this.normal(-0.5 * sigma * sigma, sigma));
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.float());
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.float() * items.length)] as T;
  }

  /** Index drawn with probability proportional to weights[i] (weights ≥ 0, some > 0). */
  weightedIndex(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    if (!(total > 0)) throw new RangeError('weightedIndex needs a positive total weight');
    let x = this.float() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i] as number;
      if (x < 0) return i;
    }
    return weights.length - 1;
  }

  /** An independent stream derived from this one's next output and a label. */
  fork(...labels: readonly SeedPart[]): Rng {
    return new Rng(hashSeed(this.nextU32(), ...labels));
  }
}

/** A stream for the given seed parts, e.g. makeRng(seed, 'schedule', deviceId, day). */
export function makeRng(...parts: readonly SeedPart[]): Rng {
  return new Rng(hashSeed(...parts));
}
