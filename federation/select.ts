/**
 * In-place selection (nth_element): after `selectInPlace(a, k, lo, hi)`, a[k] holds the value that
 * would be at k if a[lo..hi] were sorted, everything in a[lo..k) is ≤ it and everything in (k..hi]
 * is ≥ it. Used by top-k (threshold of the k largest magnitudes) and by the coordinate-wise median
 * and trimmed mean, where sorting every coordinate's n values would cost n log n instead of n.
 *
 * Quickselect with a median-of-three pivot (Numerical Recipes `select`, Hoare 1961); because a
 * Byzantine client chooses some of the values, a run that partitions too often falls back to the
 * native sort of the remaining range (introselect, Musser 1997), so the worst case stays n log n.
 * Values must not be NaN (callers check).
 */

type Numeric = Float64Array | Float32Array;

/** `partitionBudget` (partitioning passes before the sort fallback) is exposed for tests. */
export function selectInPlace(a: Numeric, k: number, lo = 0, hi = a.length - 1, partitionBudget = 2 * Math.ceil(Math.log2(hi - lo + 2)) + 8): number {
  if (!(k >= lo && k <= hi)) throw new RangeError(`select: k=${k} is outside [${lo}, ${hi}]`);
  let l = lo;
  let ir = hi;
  let budget = partitionBudget;
  for (;;) {
    if (ir <= l + 1) {
      if (ir === l + 1 && a[ir] < a[l]) swap(a, l, ir);
      return a[k];
    }
    if (--budget < 0) {
      a.subarray(l, ir + 1).sort();
      return a[k];
    }
    const mid = (l + ir) >>> 1;
    swap(a, mid, l + 1);
    if (a[l] > a[ir]) swap(a, l, ir);
    if (a[l + 1] > a[ir]) swap(a, l + 1, ir);
    if (a[l] > a[l + 1]) swap(a, l, l + 1);
    let i = l + 1;
    let j = ir;
    const pivot = a[l + 1];
    for (;;) {
      do i++;
      while (a[i] < pivot);
      do j--;
      while (a[j] > pivot);
      if (j < i) break;
      swap(a, i, j);
    }
    a[l + 1] = a[j];
    a[j] = pivot;
    if (j >= k) ir = j - 1;
    if (j <= k) l = i;
  }
}

function swap(a: Numeric, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}
