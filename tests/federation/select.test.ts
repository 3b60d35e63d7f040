import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { selectInPlace } from '../../federation/select.ts';

describe('selectInPlace', () => {
  it('puts the k-th smallest at k, smaller-or-equal left and greater-or-equal right', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 300 }), fc.nat(), (xs, kRaw) => {
        const a = Float64Array.from(xs);
        const k = kRaw % a.length;
        const v = selectInPlace(a, k);
        const sorted = [...xs].sort((p, q) => p - q);
        expect(v).toBe(sorted[k]);
        expect(a[k]).toBe(v);
        for (let i = 0; i < k; i++) expect(a[i]).toBeLessThanOrEqual(v);
        for (let i = k + 1; i < a.length; i++) expect(a[i]).toBeGreaterThanOrEqual(v);
        expect([...a].sort((p, q) => p - q)).toEqual(sorted); // a permutation
      }),
      { numRuns: 300 },
    );
  });

  it('works on a sub-range and leaves the rest alone', () => {
    const a = Float32Array.of(9, 9, 5, 1, 4, 2, 3, 9);
    expect(selectInPlace(a, 4, 2, 6)).toBe(3);
    expect([a[0], a[1], a[7]]).toEqual([9, 9, 9]);
  });

  it('falls back to sorting when partitioning takes too many passes, with the same result', () => {
    // The budget guards against adversarial orders (introselect, Musser 1997); budget 0 and 1 force the fallback.
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 3, maxLength: 100 }), fc.nat(), fc.integer({ min: 0, max: 1 }), (xs, kRaw, budget) => {
        const a = Float64Array.from(xs);
        const k = kRaw % a.length;
        // + 0 folds -0 into +0: the two compare equal, so either is a correct k-th smallest.
        expect(selectInPlace(a, k, 0, a.length - 1, budget) + 0).toBe([...xs].sort((p, q) => p - q)[k] + 0);
        for (let i = 0; i < k; i++) expect(a[i]).toBeLessThanOrEqual(a[k]);
        for (let i = k + 1; i < a.length; i++) expect(a[i]).toBeGreaterThanOrEqual(a[k]);
      }),
      { numRuns: 200 },
    );
  });

  it('handles sorted, reversed, constant and organ-pipe inputs', () => {
    const n = 1001;
    const patterns = [
      Float64Array.from({ length: n }, (_, i) => i),
      Float64Array.from({ length: n }, (_, i) => n - i),
      new Float64Array(n).fill(7),
      Float64Array.from({ length: n }, (_, i) => Math.min(i, n - i)),
    ];
    for (const p of patterns) {
      const sorted = Float64Array.from(p).sort();
      for (const k of [0, 1, 500, 999, 1000]) expect(selectInPlace(Float64Array.from(p), k)).toBe(sorted[k]);
    }
  });

  it('refuses k outside the range', () => {
    expect(() => selectInPlace(new Float64Array(3), 3)).toThrow(/outside \[0, 2\]/);
  });
});
