/**
 * Uniform randomness for sampling and noise. Production code uses `createSecureRandom()` (the OS
 * CSPRNG through node:crypto, the role torchcsprng plays in Opacus's secure_mode,
 * shared/notes/opacus.md §1.5). `seededRandomForTests` is a fast deterministic generator for tests
 * and benchmarks only: it says so in `cryptographicallySecure`, and the DP-SGD optimizer refuses it
 * unless told otherwise.
 */
import { randomFillSync } from 'node:crypto';

export interface RandomSource {
  /** True only for the OS CSPRNG. Privacy guarantees assume it. */
  readonly cryptographicallySecure: boolean;
  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number;
  /** Uniform double in [0, 1) with 53 random bits (k / 2^53, k uniform in [0, 2^53)). */
  nextDouble(): number;
}

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

/** 53 random bits from two 32-bit words: the top 27 of one and the top 26 of the other (as MT19937's genrand_res53). */
function doubleFromWords(a: number, b: number): number {
  return ((a >>> 5) * TWO_POW_26 + (b >>> 6)) / TWO_POW_53;
}

class SecureRandom implements RandomSource {
  readonly cryptographicallySecure = true;
  private readonly words: Uint32Array;
  private next: number;

  constructor(blockWords: number) {
    this.words = new Uint32Array(blockWords);
    this.next = blockWords; // filled on first use
  }

  nextUint32(): number {
    if (this.next === this.words.length) {
      // One syscall-backed fill per block keeps the per-number cost to an array read.
      randomFillSync(this.words);
      this.next = 0;
    }
    return this.words[this.next++];
  }

  nextDouble(): number {
    const a = this.nextUint32();
    return doubleFromWords(a, this.nextUint32());
  }
}

/** The OS CSPRNG (node:crypto randomFillSync), read in blocks of `blockBytes` (default 64 KiB). */
export function createSecureRandom(opts: { blockBytes?: number } = {}): RandomSource {
  const blockBytes = opts.blockBytes ?? 65536;
  if (!Number.isSafeInteger(blockBytes) || blockBytes < 8 || blockBytes % 4 !== 0 || blockBytes > 1 << 26) {
    throw new RangeError(`blockBytes must be a multiple of 4 in [8, 2^26] (got ${blockBytes})`);
  }
  return new SecureRandom(blockBytes / 4);
}

/**
 * xoshiro128** (Blackman & Vigna 2018) seeded through splitmix32: deterministic, fast, NOT secure.
 * For tests and benchmarks only.
 */
class SeededRandom implements RandomSource {
  readonly cryptographicallySecure = false;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const splitmix32 = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = splitmix32();
    this.s1 = splitmix32();
    this.s2 = splitmix32();
    this.s3 = splitmix32();
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  nextDouble(): number {
    const a = this.nextUint32();
    return doubleFromWords(a, this.nextUint32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Deterministic pseudo-random source for tests and benchmarks ONLY (never for privacy). */
export function seededRandomForTests(seed: number): RandomSource {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer (got ${seed})`);
  return new SeededRandom(seed);
}

/** Uniform integer in [0, n) for a safe integer n >= 1, by rejection (no modulo bias). */
export function randomIntBelow(random: RandomSource, n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`n must be a positive safe integer (got ${n})`);
  if (n <= 0x100000000) {
    // Largest multiple of n that fits in 32 bits; values at or above it are rejected.
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const r = random.nextUint32();
      if (r < limit) return r % n;
    }
  }
  return Number(randomBigIntBelow(random, BigInt(n)));
}

/** Uniform BigInt in [0, n) for n >= 1, by rejection on the bit length of n - 1. */
export function randomBigIntBelow(random: RandomSource, n: bigint): bigint {
  if (n < 1n) throw new RangeError(`n must be >= 1 (got ${n})`);
  if (n === 1n) return 0n;
  const max = n - 1n;
  let bits = 0;
  for (let v = max; v > 0n; v >>= 32n) bits += 32;
  // Trim to the exact bit length so each try succeeds with probability > 1/2.
  const top = max >> BigInt(bits - 32);
  let topBits = 32;
  while (topBits > 0 && top >> BigInt(topBits - 1) === 0n) topBits--;
  bits = bits - 32 + topBits;
  const words = Math.ceil(bits / 32);
  const excess = BigInt(words * 32 - bits);
  for (;;) {
    let r = 0n;
    for (let w = 0; w < words; w++) r = (r << 32n) | BigInt(random.nextUint32());
    r >>= excess;
    if (r < n) return r;
  }
}
