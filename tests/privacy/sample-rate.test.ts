import { describe, expect, it } from 'vitest';
import { opacusSampleRate } from '../../privacy/sample-rate.ts';
import { loadFixture } from './fixtures.ts';

interface Row {
  N: number; batch_size: number; drop_last: boolean; len_original_loader: number; len_dp_loader: number;
  dp_loader_sample_rate: number; accountant_sample_rate: number; expected_batch_size: number; quirk: boolean;
}
const fixture = loadFixture<{ rows: Row[]; first_such_n: number[]; n_le_100000_with_int_1_over_1_over_n_ne_n: number }>('opacus-sample-rate-quirk.json');

describe('opacusSampleRate (opacus-sample-rate-quirk.json)', () => {
  it.each(fixture.rows.map((r) => [`N=${r.N} B=${r.batch_size} drop_last=${r.drop_last}`, r] as const))('%s', (_, r) => {
    const s = opacusSampleRate(r.N, r.batch_size, { dropLast: r.drop_last });
    expect(s.originalLoaderLength).toBe(r.len_original_loader);
    expect(s.stepsPerEpoch).toBe(r.len_dp_loader);
    expect(s.loaderSampleRate).toBe(r.dp_loader_sample_rate);
    expect(s.accountantSampleRate).toBe(r.accountant_sample_rate);
    expect(s.expectedBatchSize).toBe(r.expected_batch_size);
    expect(s.quirk).toBe(r.quirk);
  });

  it('finds the same loader lengths where int(1/(1/n)) != n', () => {
    const found: number[] = [];
    let count = 0;
    for (let n = 1; n <= 100_000; n++) {
      if (opacusSampleRate(n, 1).quirk) {
        count++;
        if (found.length < fixture.first_such_n.length) found.push(n);
      }
    }
    expect(found).toEqual(fixture.first_such_n);
    expect(count).toBe(fixture.n_le_100000_with_int_1_over_1_over_n_ne_n);
  });

  it('names bad parameters', () => {
    expect(() => opacusSampleRate(0, 8)).toThrow(/numExamples/);
    expect(() => opacusSampleRate(10, 2.5)).toThrow(/batchSize/);
    expect(() => opacusSampleRate(10, 20, { dropLast: true })).toThrow(/empty/);
  });
});
