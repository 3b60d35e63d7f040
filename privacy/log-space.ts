/**
 * Adding and subtracting numbers held as their logarithms, exactly as Opacus does it
 * (opacus/accountants/analysis/rdp.py `_log_add`, `_log_sub`, from TF-Privacy's rdp_accountant.py).
 */

/** log(exp(x) + exp(y)). */
export function logAdd(x: number, y: number): number {
  const a = Math.min(x, y);
  const b = Math.max(x, y);
  if (a === -Infinity) return b;
  return Math.log1p(Math.exp(a - b)) + b;
}

/**
 * log(exp(x) - exp(y)) for x >= y. Opacus raises ValueError("The result of subtraction must be
 * non-negative.") when x < y; so do we. Where Python's math.expm1 would raise OverflowError (x - y
 * above ~709.78) Opacus returns x; Math.expm1 gives Infinity there instead, so the same fallback is
 * taken on a non-finite result.
 */
export function logSub(x: number, y: number): number {
  if (x < y) throw new RangeError('logSub: the result of subtraction must be non-negative (x < y)');
  if (y === -Infinity) return x;
  if (x === y) return -Infinity;
  const d = Math.expm1(x - y);
  if (d === Infinity) return x;
  return Math.log(d) + y;
}
