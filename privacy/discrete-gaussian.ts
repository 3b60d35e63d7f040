/**
 * Exact sampling from the discrete Gaussian N_Z(0, sigma^2) (P[k] proportional to exp(-k^2 / (2 sigma^2)),
 * k integer) with rational arithmetic only: Canonne, Kamath, Steinke 2020, "The Discrete Gaussian for
 * Differential Privacy" (arXiv 2004.00010), Algorithms 1-3. No floating point touches the sample, so
 * the floating-point attacks on continuous samplers (Mironov 2012; Jin et al. 2021, arXiv 2112.05307)
 * have nothing to work on.
 */
import { randomBigIntBelow, type RandomSource } from './secure-random.ts';

/** Bernoulli(num / den) for 0 <= num <= den. */
function bernoulliRational(random: RandomSource, num: bigint, den: bigint): boolean {
  return randomBigIntBelow(random, den) < num;
}

/**
 * Bernoulli(exp(-gamma)) for gamma = num/den >= 0: CKS 2020 Algorithm 1. For gamma <= 1, draw
 * A_k ~ Bernoulli(gamma/k) until the first failure at K; P[K odd] = exp(-gamma). For gamma > 1,
 * floor(gamma) independent Bernoulli(exp(-1)) then Bernoulli(exp(-(gamma - floor(gamma)))).
 */
export function bernoulliExpMinus(random: RandomSource, num: bigint, den: bigint): boolean {
  if (den <= 0n) throw new RangeError(`den must be > 0 (got ${den})`);
  if (num < 0n) throw new RangeError(`num must be >= 0 (got ${num})`);
  if (num <= den) {
    let k = 1n;
    while (bernoulliRational(random, num, den * k)) k++;
    return k % 2n === 1n;
  }
  for (let i = num / den; i > 0n; i--) {
    if (!bernoulliExpMinus(random, 1n, 1n)) return false;
  }
  return bernoulliExpMinus(random, num % den, den);
}

/**
 * Discrete Laplace with scale t (P[y] proportional to exp(-|y|/t)), t a positive integer: CKS 2020
 * Algorithm 2 with s = 1. U uniform in [0, t) accepted with probability exp(-U/t), plus t times a
 * geometric V, a random sign, rejecting the negative zero.
 */
export function sampleDiscreteLaplace(random: RandomSource, t: bigint): bigint {
  if (t < 1n) throw new RangeError(`t must be >= 1 (got ${t})`);
  for (;;) {
    const u = randomBigIntBelow(random, t);
    if (!bernoulliExpMinus(random, u, t)) continue;
    let v = 0n;
    while (bernoulliExpMinus(random, 1n, 1n)) v++;
    const y = u + t * v;
    const negative = (random.nextUint32() & 1) === 1;
    if (negative && y === 0n) continue;
    return negative ? -y : y;
  }
}

/** floor(sqrt(n)) for n >= 0 (Newton's method on integers). */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError(`isqrt of a negative number (${n})`);
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  // The float guess is within a few units; Newton from above converges to the floor.
  x += 2n;
  for (;;) {
    const y = (x + n / x) / 2n;
    if (y >= x) break;
    x = y;
  }
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x;
}

/** The exact rational value of a finite double as num / 2^shift (num an integer). */
function doubleAsDyadic(x: number): { num: bigint; shift: bigint } {
  let shift = 0;
  let v = x;
  while (!Number.isInteger(v)) {
    v *= 2; // exact: multiplying by 2 only changes the exponent
    shift++;
  }
  return { num: BigInt(v), shift: BigInt(shift) };
}

export type IntegerSampler = () => bigint;

/**
 * A sampler of N_Z(0, sigma^2) for sigma given as a double (taken as the exact rational it encodes):
 * CKS 2020 Algorithm 3. t = floor(sigma) + 1; Y ~ discrete Laplace(t), accepted with probability
 * exp(-(|Y| - sigma^2/t)^2 / (2 sigma^2)), computed exactly as num/den with
 * sigma^2 = n/d: num = (|Y| d t - n)^2, den = 2 n d t^2.
 */
export function discreteGaussianSampler(random: RandomSource, sigma: number): IntegerSampler {
  if (!(sigma > 0) || !Number.isFinite(sigma)) throw new RangeError(`sigma must be finite and > 0 (got ${sigma})`);
  const { num: sNum, shift } = doubleAsDyadic(sigma);
  const n = sNum * sNum; // sigma^2 = n / d
  const d = 1n << (2n * shift);
  const t = isqrt(n / d) + 1n;
  const dt = d * t;
  const den = 2n * n * d * t * t;
  return () => {
    for (;;) {
      const y = sampleDiscreteLaplace(random, t);
      const absY = y < 0n ? -y : y;
      const diff = absY * dt - n;
      if (bernoulliExpMinus(random, diff * diff, den)) return y;
    }
  };
}
