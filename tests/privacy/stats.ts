/** Small statistical helpers for tests whose assertions come from sampling distributions. */
import { logGamma, ndtr } from '../../privacy/special-functions.ts';

export function meanAndSd(xs: ArrayLike<number>): { mean: number; sd: number } {
  let m = 0;
  for (let i = 0; i < xs.length; i++) m += xs[i];
  m /= xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += (xs[i] - m) ** 2;
  return { mean: m, sd: Math.sqrt(v / (xs.length - 1)) };
}

/** Kolmogorov-Smirnov statistic sqrt(n) D_n of a sample against the N(mu, sd^2) CDF. */
export function ksNormal(xs: ArrayLike<number>, mu: number, sd: number): number {
  const s = Float64Array.from(xs).sort();
  const n = s.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = ndtr((s[i] - mu) / sd);
    d = Math.max(d, f - i / n, (i + 1) / n - f);
  }
  return Math.sqrt(n) * d;
}

/** Kolmogorov distribution: P[sqrt(n) D_n > 1.949] ~ 0.001 for large n. */
export const KS_CRITICAL_0001 = 1.949;

/** Upper tail P[X > x] for X ~ chi-square(k), by the regularised incomplete gamma Q(k/2, x/2). */
export function chiSquareSurvival(x: number, k: number): number {
  const a = k / 2;
  const z = x / 2;
  if (z <= 0) return 1;
  const logPrefix = a * Math.log(z) - z - logGamma(a);
  if (z < a + 1) {
    // Series for P, Q = 1 - P.
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 10000; n++) {
      term *= z / (a + n);
      sum += term;
      if (term < sum * 1e-16) break;
    }
    return 1 - Math.exp(logPrefix) * sum;
  }
  // Continued fraction for Q (modified Lentz).
  let b = z + 1 - a;
  let c = 1e300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(logPrefix) * h;
}

/** Pearson's chi-square statistic of observed counts against expected counts. */
export function chiSquare(observed: readonly number[], expected: readonly number[]): number {
  let x = 0;
  for (let i = 0; i < observed.length; i++) x += (observed[i] - expected[i]) ** 2 / expected[i];
  return x;
}
