/**
 * Binomial probabilities for the audit's hypothesis test, in log space so that r in the thousands
 * and p near 1 neither overflow nor lose the tail.
 */
import { logGamma } from '../special-functions.ts';
import { logAdd } from '../log-space.ts';

function checkArgs(k: number, n: number, p: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer (got ${n})`);
  if (!Number.isSafeInteger(k)) throw new RangeError(`k must be an integer (got ${k})`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`p must be in [0, 1] (got ${p})`);
}

/** ln P[Binomial(n, p) = k]; -Infinity outside the support. */
export function binomialLogPmf(k: number, n: number, p: number): number {
  checkArgs(k, n, p);
  if (k < 0 || k > n) return -Infinity;
  if (p === 0) return k === 0 ? 0 : -Infinity;
  if (p === 1) return k === n ? 0 : -Infinity;
  const logChoose = logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
  return logChoose + k * Math.log(p) + (n - k) * Math.log1p(-p);
}

export function binomialPmf(k: number, n: number, p: number): number {
  return Math.exp(binomialLogPmf(k, n, p));
}

/** P[Binomial(n, p) >= k] (scipy's binom.sf(k - 1, n, p)). */
export function binomialTailAtLeast(k: number, n: number, p: number): number {
  checkArgs(k, n, p);
  if (k <= 0) return 1;
  if (k > n) return 0;
  let acc = -Infinity;
  for (let j = k; j <= n; j++) acc = logAdd(acc, binomialLogPmf(j, n, p));
  return Math.min(1, Math.exp(acc));
}
