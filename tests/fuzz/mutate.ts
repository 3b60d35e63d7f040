/**
 * Input generation for the fuzz targets: random bytes, and mutations of corpus samples (bit flips,
 * interesting values, truncation, insertion, deletion, duplication, splices of two samples), in
 * the manner of AFL's deterministic-free "havoc" stage. Deterministic in the seed, so every failure
 * the bench or a test reports can be replayed from (target, seed, iteration).
 */

export interface FuzzRandom {
  /** A uniform uint32. */
  next(): number;
  /** A uniform integer in [0, n). */
  below(n: number): number;
}

/** xorshift128+ style generator (32-bit lanes): fast, not cryptographic; fuzzing only. */
export function fuzzRandom(seed: number): FuzzRandom {
  let a = (seed ^ 0x9e3779b9) >>> 0 || 1;
  let b = Math.imul(seed, 0x85ebca6b) >>> 0 || 2;
  let c = 0x27d4eb2f;
  let d = 0x165667b1;
  const next = (): number => {
    // xoshiro128** (Blackman & Vigna 2018).
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return r;
  };
  for (let i = 0; i < 8; i++) next();
  return { next, below: (n) => (n <= 1 ? 0 : next() % n) };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

const INTERESTING_8 = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x0a, 0x20, 0x22, 0x2d, 0x3a, 0x7b, 0x5b];
const INTERESTING_32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

export function randomBytes(rng: FuzzRandom, maxLen: number): Uint8Array {
  const out = new Uint8Array(rng.below(maxLen + 1));
  for (let i = 0; i < out.length; i++) out[i] = rng.next() & 0xff;
  return out;
}

/** One to six stacked mutations of `sample`, never longer than maxLen. */
export function mutate(rng: FuzzRandom, sample: Uint8Array, corpus: readonly Uint8Array[], maxLen: number): Uint8Array {
  let buf: Uint8Array = Uint8Array.from(sample);
  const rounds = 1 + rng.below(6);
  for (let r = 0; r < rounds; r++) {
    const n = buf.length;
    switch (rng.below(9)) {
      case 0: // bit flip
        if (n > 0) buf[rng.below(n)] ^= 1 << rng.below(8);
        break;
      case 1: // random byte
        if (n > 0) buf[rng.below(n)] = rng.next() & 0xff;
        break;
      case 2: // interesting byte
        if (n > 0) buf[rng.below(n)] = INTERESTING_8[rng.below(INTERESTING_8.length)];
        break;
      case 3: {
        // interesting little- or big-endian uint32 (lengths, counts, sizes)
        if (n < 4) break;
        const at = rng.below(n - 3);
        const v = INTERESTING_32[rng.below(INTERESTING_32.length)];
        const big = rng.below(2) === 1;
        for (let k = 0; k < 4; k++) buf[at + k] = (v >>> (8 * (big ? 3 - k : k))) & 0xff;
        break;
      }
      case 4: // truncate
        buf = buf.slice(0, rng.below(n + 1));
        break;
      case 5: {
        // insert random bytes
        const at = rng.below(n + 1);
        const ins = randomBytes(rng, 16);
        buf = concat(buf.subarray(0, at), ins, buf.subarray(at));
        break;
      }
      case 6: {
        // delete a range
        if (n === 0) break;
        const at = rng.below(n);
        const len = 1 + rng.below(Math.min(32, n - at));
        buf = concat(buf.subarray(0, at), buf.subarray(at + len));
        break;
      }
      case 7: {
        // duplicate a range in place
        if (n === 0) break;
        const at = rng.below(n);
        const len = 1 + rng.below(Math.min(64, n - at));
        buf = concat(buf.subarray(0, at + len), buf.subarray(at, at + len), buf.subarray(at + len));
        break;
      }
      default: {
        // splice: a prefix of this with a suffix of another sample
        const other = corpus[rng.below(corpus.length)] ?? new Uint8Array(0);
        buf = concat(buf.subarray(0, rng.below(n + 1)), other.subarray(rng.below(other.length + 1)));
      }
    }
    if (buf.length > maxLen) buf = buf.slice(0, maxLen);
  }
  return buf;
}

/** A quarter random bytes, the rest mutated corpus samples (or all random if the corpus is empty). */
export function generateInput(rng: FuzzRandom, corpus: readonly Uint8Array[], maxLen: number): Uint8Array {
  if (corpus.length === 0 || rng.below(4) === 0) return randomBytes(rng, Math.min(maxLen, 512));
  return mutate(rng, corpus[rng.below(corpus.length)], corpus, maxLen);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
