/**
 * The epsilon lower bound of a one-run membership audit: Steinke, Nasr, Jagielski 2023, "Privacy
 * Auditing with One (1) Training Run" (arXiv 2305.08846), Theorem 5.2 / Corollary 5.4 and the
 * reference code of their Appendix D (`p_value_DP_audit`, `get_eps_audit`), reproduced here.
 *
 * Setting: m canaries, each included independently with probability 1/2; the auditor makes r
 * guesses (abstaining on the rest) and v of them are right. Under (eps, delta)-DP, the number of
 * right guesses is dominated by Binomial(r, e^eps / (1 + e^eps)) up to an additive term in delta,
 * so P[W >= v] <= beta + alpha * delta * 2m with beta the binomial tail and alpha from the
 * theorem's tail-ratio maximisation. Any eps whose p-value is below the test level is rejected;
 * the lower bound is the largest eps rejected (bisection, as in the reference code).
 */
import { binomialPmf, binomialTailAtLeast } from './binomial.ts';

function checkCounts(m: number, r: number, v: number): void {
  for (const [name, x] of [['m', m], ['r', r], ['v', v]] as const) {
    if (!Number.isSafeInteger(x) || x < 0) throw new RangeError(`${name} must be a non-negative integer (got ${x})`);
  }
  if (!(v <= r && r <= m)) throw new RangeError(`need 0 <= v <= r <= m (got v = ${v}, r = ${r}, m = ${m})`);
}

/** P[>= v right guesses out of r] under the null hypothesis that the mechanism is (eps, delta)-DP. */
export function oneRunPValue(m: number, r: number, v: number, eps: number, delta: number): number {
  checkCounts(m, r, v);
  if (!(eps >= 0)) throw new RangeError(`eps must be >= 0 (got ${eps})`);
  if (!(delta >= 0 && delta <= 1)) throw new RangeError(`delta must be in [0, 1] (got ${delta})`);
  // Accuracy of eps-DP randomized response, the worst case for a single guess.
  const q = 1 / (1 + Math.exp(-eps));
  const beta = binomialTailAtLeast(v, r, q);
  let alpha = 0;
  let sum = 0; // P[v > Binomial(r, q) >= v - i]
  for (let i = 1; i <= v; i++) {
    sum += binomialPmf(v - i, r, q);
    if (sum > i * alpha) alpha = sum / i;
  }
  return Math.min(1, beta + alpha * delta * 2 * m);
}

/**
 * The largest eps such that "the mechanism is (eps, delta)-DP" is rejected at level `beta`
 * (confidence 1 - beta), or 0 if even eps = 0 is not rejected. Bisection as in the reference code,
 * with a cap so that degenerate inputs cannot loop.
 */
export function oneRunEpsilonLowerBound(m: number, r: number, v: number, delta: number, beta: number): number {
  checkCounts(m, r, v);
  if (!(beta > 0 && beta < 1)) throw new RangeError(`beta must be in (0, 1) (got ${beta})`);
  if (oneRunPValue(m, r, v, 0, delta) >= beta) return 0;
  let lo = 0; // p-value(lo) < beta
  let hi = 1; // p-value(hi) >= beta
  while (oneRunPValue(m, r, v, hi, delta) < beta) {
    lo = hi;
    hi += 1;
    // Beyond ~50 the binomial's success probability is 1 in double precision: nothing more to learn.
    if (hi > 64) return lo;
  }
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (oneRunPValue(m, r, v, mid, delta) < beta) lo = mid;
    else hi = mid;
  }
  return lo;
}
