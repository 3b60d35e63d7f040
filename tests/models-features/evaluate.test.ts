import { describe, expect, it } from 'vitest';
import { OVERALL, errorMetrics, evaluatePredictors, formatEvaluationTable, type EvalSet } from '../../models/index.ts';

describe('errorMetrics', () => {
  it('computes MAE, MAPE and bias by hand', () => {
    // Errors −1, 0, +2 against references 2, 2, 1.
    const m = errorMetrics([1, 2, 3], [2, 2, 1]);
    expect(m.n).toBe(3);
    expect(m.mae).toBeCloseTo(1, 12);
    expect(m.mape).toBeCloseTo(((1 / 2 + 0 + 2 / 1) / 3) * 100, 10);
    expect(m.bias).toBeCloseTo(1 / 3, 12);
  });

  it('scores only the selected rows and leaves zero references out of MAPE only', () => {
    const m = errorMetrics([1, 5, 3], [0, 2, 4], [0, 2]);
    expect(m.n).toBe(2);
    expect(m.mae).toBeCloseTo(1, 12);
    expect(m.nMape).toBe(1);
    expect(m.mape).toBeCloseTo(25, 10);
  });

  it('is NaN on no rows, and refuses non-finite predictions', () => {
    expect(errorMetrics([], []).mae).toBeNaN();
    expect(() => errorMetrics([Number.NaN], [1])).toThrow(/prediction 0/);
  });
});

describe('evaluatePredictors', () => {
  const set: EvalSet = {
    name: 'toy',
    X: new Float32Array([1, 2, 3, 4]),
    y: [1, 2, 3, 4],
    groups: ['b', 'a', 'b', 'a'],
    n: 4,
  };
  // One feature per row: predict x + 1 (off by one everywhere), and an async perfect predictor.
  const plusOne = (X: Float32Array, n: number) => Float64Array.from({ length: n }, (_, i) => X[i] + 1);
  const perfect = async (X: Float32Array, n: number) => X.slice(0, n);

  it('scores every predictor per group and overall, groups in the requested order', async () => {
    const r = await evaluatePredictors(set, [['plus one', plusOne], ['perfect', perfect]], { groupOrder: ['a', 'b', 'c'] });
    expect(r.groups).toEqual(['a', 'b', 'c', OVERALL]);
    expect(r.metrics['plus one'].a).toMatchObject({ n: 2, mae: 1 });
    expect(r.metrics['plus one'].a.mape).toBeCloseTo(((1 / 2 + 1 / 4) / 2) * 100, 10);
    expect(r.metrics['plus one'][OVERALL]).toMatchObject({ n: 4, mae: 1, bias: 1 });
    expect(r.metrics.perfect[OVERALL].mae).toBe(0);
    expect(r.metrics.perfect.c.n).toBe(0);
  });

  it('formats a markdown table with MAE (MAPE) cells and a dash for empty groups', async () => {
    const r = await evaluatePredictors(set, [['plus one', plusOne], ['perfect', perfect]], { groupOrder: ['a', 'b', 'c'] });
    const lines = formatEvaluationTable(r).split('\n');
    expect(lines[0]).toBe('| group | n | plus one MAE (MAPE) | perfect MAE (MAPE) |');
    expect(lines[1]).toBe('| --- | ---: | ---: | ---: |');
    expect(lines[2]).toBe('| a | 2 | 1.00 (37.5%) | 0.00 (0.0%) |');
    expect(lines[3]).toBe('| b | 2 | 1.00 (66.7%) | 0.00 (0.0%) |');
    expect(lines[4]).toBe('| c | 0 | – | – |');
    expect(lines[5]).toBe('| **overall** | 4 | 1.00 (52.1%) | 0.00 (0.0%) |');
  });

  it('rejects short predictions, duplicate names and the reserved group name', async () => {
    await expect(evaluatePredictors(set, [['short', () => [1]]])).rejects.toThrow(/short returned 1 values for 4 rows/);
    await expect(evaluatePredictors(set, [['x', plusOne], ['x', plusOne]])).rejects.toThrow(/unique/);
    await expect(evaluatePredictors({ ...set, groups: ['a', 'a', OVERALL, 'a'] }, [['x', plusOne]])).rejects.toThrow(/reserved/);
  });
});
