/**
 * Composition of discretised PRVs: the distribution of a sum of independent losses is the
 * convolution of their pmfs (Gopi et al. 2021, arXiv 2106.02848, Sec. 4-5).
 * Follows opacus/accountants/analysis/prv/compose.py (`_compose_fourier`, `_compose_two`,
 * `_compose_convolution_tree`, `compose_heterogeneous`).
 */
import { complexPowInPlace, convolveSame, irfft, rfft } from './fft.ts';
import type { DiscretePRV } from './discrete.ts';

/**
 * n-fold self-composition as irfft(rfft(pmf)^n): a circular convolution on the same grid. The
 * aligned grid (domain.ts) has t = 0 at index N/2 - 1, so a sum of indices i_1 + ... + i_n
 * belongs at index Σi - (n-1)(N/2 - 1) ≡ Σi + (n-1) [+ N/2 if n is even] (mod N): that is the
 * np.roll below. The mass that truly lies outside [-L, L]
 * wraps around; L is chosen (domain.ts) so that this mass is below delta_error.
 * The grid's accumulated mean shift is added n-1 more times, once per extra copy.
 */
export function composeFourier(dprv: DiscretePRV, numSelfCompositions: number): DiscretePRV {
  const n = dprv.pmf.length;
  if (n % 2 !== 0) throw new RangeError(`PRV composition needs an even grid, got ${n} points`);
  const spec = rfft(dprv.pmf);
  complexPowInPlace(spec.re, spec.im, numSelfCompositions);
  const composed = irfft(spec.re, spec.im, n);
  let m = numSelfCompositions - 1;
  if (numSelfCompositions % 2 === 0) m += n / 2;
  const pmf = roll(composed, m);
  return { pmf, domain: dprv.domain.shiftRight(dprv.domain.shifts * (numSelfCompositions - 1)) };
}

/** numpy.roll(a, shift) for 1-D a: out[(i + shift) mod n] = a[i]. */
function roll(a: Float64Array, shift: number): Float64Array {
  const n = a.length;
  const s = ((shift % n) + n) % n;
  const out = new Float64Array(n);
  out.set(a.subarray(0, n - s), s);
  out.set(a.subarray(n - s), 0);
  return out;
}

/** Two different PRVs on the same grid: linear convolution, centre part kept ("same"). */
export function composeTwo(left: DiscretePRV, right: DiscretePRV): DiscretePRV {
  return { pmf: convolveSame(left.pmf, right.pmf), domain: left.domain.shiftRight(right.domain.shifts) };
}

/** Pairwise convolution until one is left, in Opacus' order (an odd one out goes first). */
export function composeConvolutionTree(dprvs: readonly DiscretePRV[]): DiscretePRV {
  if (dprvs.length === 0) throw new RangeError('composeConvolutionTree: no PRVs to compose');
  let level = [...dprvs];
  while (level.length > 1) {
    const next: DiscretePRV[] = [];
    if (level.length % 2 === 1) next.push(level.pop() as DiscretePRV);
    for (let i = 0; i + 1 < level.length; i += 2) next.push(composeTwo(level[i], level[i + 1]));
    level = next;
  }
  return level[0];
}

export function composeHeterogeneous(dprvs: readonly DiscretePRV[], numSelfCompositions: readonly number[]): DiscretePRV {
  if (dprvs.length !== numSelfCompositions.length) {
    throw new RangeError(`composeHeterogeneous: ${dprvs.length} PRVs but ${numSelfCompositions.length} composition counts`);
  }
  return composeConvolutionTree(dprvs.map((d, i) => composeFourier(d, numSelfCompositions[i])));
}
