import { describe, expect, it } from 'vitest';
import { DEFAULT_ALPHAS, composeRdp, computeRdp, createRdpAccountant, rdpAccountant, rdpEpsilon, rdpToEpsilon } from '../../privacy/rdp.ts';
import { loadFixture, relErr } from './fixtures.ts';

interface RdpRow { q: number; sigma: number; steps: number; delta: number; eps: number; best_alpha: number; alpha_at_boundary_warning: boolean }
interface MnistRow { case: string; q: number; sigma: number; steps: number; delta: number; opacus_rdp_eps: number; opacus_rdp_best_alpha: number }

const rdpRows = loadFixture<{ rows: RdpRow[] }>('opacus-rdp-epsilon.json').rows;
const mnistRows = loadFixture<{ rows: MnistRow[] }>('opacus-mnist-setting.json').rows;
const provenance = loadFixture<{ opacus_default_alphas: number[] }>('provenance.json');

describe('DEFAULT_ALPHAS', () => {
  it("are Opacus's 151 orders, the same doubles", () => {
    expect(DEFAULT_ALPHAS.length).toBe(151);
    expect([...DEFAULT_ALPHAS]).toEqual(provenance.opacus_default_alphas);
    expect(DEFAULT_ALPHAS).not.toContain(11);
    expect(DEFAULT_ALPHAS[2]).toBe(1.3); // 1 + 3/10 is the double of the literal 1.3
    expect(DEFAULT_ALPHAS.filter((a) => Number.isInteger(a)).length).toBe(9 + 52);
  });
});

describe('RDP epsilon against Opacus 1.4.0 (opacus-rdp-epsilon.json, every row)', () => {
  it.each(rdpRows.map((r) => [`q=${r.q} sigma=${r.sigma} steps=${r.steps} delta=${r.delta}`, r] as const))('%s', (_, r) => {
    const report = rdpAccountant.epsilon([{ noiseMultiplier: r.sigma, sampleRate: r.q, steps: r.steps }], r.delta);
    expect(report.accountant).toBe('rdp');
    expect(report.delta).toBe(r.delta);
    expect(relErr(report.epsilon, r.eps)).toBeLessThanOrEqual(1e-8);
    expect(report.order).toBe(r.best_alpha);
    const detail = rdpEpsilon([{ noiseMultiplier: r.sigma, sampleRate: r.q, steps: r.steps }], r.delta);
    expect(detail.atBoundary !== undefined).toBe(r.alpha_at_boundary_warning);
  });
});

describe('MNIST setting (opacus-mnist-setting.json, RDP columns)', () => {
  it.each(mnistRows.map((r) => [r.case, r] as const))('%s', (_, r) => {
    const report = rdpAccountant.epsilon([{ noiseMultiplier: r.sigma, sampleRate: r.q, steps: r.steps }], r.delta);
    expect(relErr(report.epsilon, r.opacus_rdp_eps)).toBeLessThanOrEqual(1e-8);
    expect(report.order).toBe(r.opacus_rdp_best_alpha);
  });
});

describe('composition over a history', () => {
  it('is additive in RDP: (T1 + T2) steps equal two entries of T1 and T2', () => {
    const one = composeRdp([{ noiseMultiplier: 1.1, sampleRate: 0.01, steps: 1000 }]);
    const two = composeRdp([
      { noiseMultiplier: 1.1, sampleRate: 0.01, steps: 400 },
      { noiseMultiplier: 1.1, sampleRate: 0.01, steps: 600 },
    ]);
    for (let k = 0; k < one.length; k++) expect(relErr(two[k], one[k])).toBeLessThan(1e-14);
  });

  it('sums heterogeneous entries order by order before converting', () => {
    const a = computeRdp(0.01, 1.0, 500);
    const b = computeRdp(0.05, 2.0, 300);
    const c = computeRdp(0.001, 0.8, 2000);
    const total = composeRdp([
      { noiseMultiplier: 1.0, sampleRate: 0.01, steps: 500 },
      { noiseMultiplier: 2.0, sampleRate: 0.05, steps: 300 },
      { noiseMultiplier: 0.8, sampleRate: 0.001, steps: 2000 },
    ]);
    for (let k = 0; k < total.length; k++) expect(total[k]).toBe(a[k] + b[k] + c[k]);
    const eps = rdpAccountant.epsilon(
      [
        { noiseMultiplier: 1.0, sampleRate: 0.01, steps: 500 },
        { noiseMultiplier: 2.0, sampleRate: 0.05, steps: 300 },
        { noiseMultiplier: 0.8, sampleRate: 0.001, steps: 2000 },
      ],
      1e-5,
    ).epsilon;
    // Composition costs more than any part alone, and less than the sum of the parts' epsilons.
    const parts = [a, b, c].map((r) => rdpToEpsilon(DEFAULT_ALPHAS, r, 1e-5).epsilon);
    expect(eps).toBeGreaterThan(Math.max(...parts));
    expect(eps).toBeLessThan(parts.reduce((x, y) => x + y, 0));
  });

  it('an empty history has spent nothing (Opacus returns (0, 0))', () => {
    const r = rdpAccountant.epsilon([], 1e-5);
    expect(r.epsilon).toBe(0);
    expect(r.order).toBeUndefined();
  });

  it('q = 0 spends nothing, sigma = 0 spends everything, q = 1 is the closed form alpha / (2 sigma^2)', () => {
    expect([...computeRdp(0, 1.0, 100)].every((v) => v === 0)).toBe(true);
    expect([...computeRdp(0.1, 0, 1)].every((v) => v === Infinity)).toBe(true);
    expect(rdpAccountant.epsilon([{ noiseMultiplier: 0, sampleRate: 0.1, steps: 1 }], 1e-5).epsilon).toBe(Infinity);
    const full = computeRdp(1, 2, 3, [2, 10.5]);
    expect(full[0]).toBe((3 * 2) / 8);
    expect(full[1]).toBe((10.5 / 8) * 3);
  });

  it('custom orders: a wider set can only lower epsilon', () => {
    const h = [{ noiseMultiplier: 4, sampleRate: 0.001, steps: 1 }];
    const wide = createRdpAccountant([...DEFAULT_ALPHAS, 128, 256, 512]).epsilon(h, 1e-5);
    const opacus = rdpAccountant.epsilon(h, 1e-5);
    expect(opacus.order).toBe(63);
    expect(wide.epsilon).toBeLessThan(opacus.epsilon);
  });
});

describe('bad input names the parameter', () => {
  it('rejects out-of-range values', () => {
    expect(() => computeRdp(1.5, 1, 1)).toThrow(/sampleRate/);
    expect(() => computeRdp(0.1, -1, 1)).toThrow(/noiseMultiplier/);
    expect(() => computeRdp(0.1, 1, 1.5)).toThrow(/steps/);
    expect(() => computeRdp(0.1, 1, 1, [1])).toThrow(/orders\[0\]/);
    expect(() => rdpToEpsilon([2, 3], [1], 1e-5)).toThrow(/rdp must have/);
    expect(() => rdpAccountant.epsilon([{ noiseMultiplier: 1, sampleRate: 0.1, steps: 1 }], 0)).toThrow(/delta/);
    expect(() => rdpAccountant.epsilon([{ noiseMultiplier: 1, sampleRate: NaN, steps: 1 }], 1e-5)).toThrow(/history\[0\]\.sampleRate/);
  });
});
