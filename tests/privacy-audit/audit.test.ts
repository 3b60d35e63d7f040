import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { Command } from 'commander';
import {
  MaterializedGradientSource,
  OneHotGradientSource,
  binomialPmf,
  binomialTailAtLeast,
  createGaussianNoise,
  dpSgdStep,
  oneRunEpsilonLowerBound,
  oneRunPValue,
  rdpAccountant,
  runCanaryAudit,
  runPrivacyAudit,
  seededRandomForTests,
} from '../../privacy/index.ts';
import { registerPrivacy } from '../../cli/privacy.ts';

// Reference values: scipy 1.17.1 and the p_value_DP_audit / get_eps_audit code of Steinke, Nasr,
// Jagielski 2023 (arXiv 2305.08846, Appendix D), run verbatim.
describe('binomial tail and the one-run p-value match scipy and the paper', () => {
  it('binomial pmf and tail', () => {
    expect(binomialTailAtLeast(60, 100, 0.5)).toBeCloseTo(0.028443966820490444, 14);
    expect(binomialPmf(30, 100, 0.3)).toBeCloseTo(0.08678386475342786, 14);
    expect(binomialTailAtLeast(0, 10, 0.3)).toBe(1);
    expect(binomialTailAtLeast(11, 10, 0.3)).toBe(0);
    let total = 0;
    for (let k = 0; k <= 50; k++) total += binomialPmf(k, 50, 0.37);
    expect(total).toBeCloseTo(1, 12);
  });

  it.each([
    [1000, 200, 132, 0.5, 1e-5, 0.1542897710045444],
    [1000, 200, 200, 2.0, 1e-5, 0.0006154955053921842],
    [100, 50, 40, 1.0, 1e-5, 0.1745255710660923],
    [1000, 200, 150, 0.8, 0, 0.03736142227015347],
    [10000, 1000, 700, 0.7, 1e-6, 0.017498895481292655],
  ])('p-value(m=%i, r=%i, v=%i, eps=%f, delta=%f)', (m, r, v, eps, delta, expected) => {
    expect(Math.abs(oneRunPValue(m, r, v, eps, delta) - expected) / expected).toBeLessThan(1e-9);
  });

  it.each([
    [1000, 200, 132, 1e-5, 0.05, 0.40785990562289953],
    [1000, 200, 200, 1e-5, 0.05, 4.16649017482996],
    [1000, 200, 198, 1e-5, 0.05, 3.4257292076945305],
    [100, 50, 40, 1e-5, 0.05, 0.7735157702118158],
    [10000, 1000, 700, 1e-6, 0.01, 0.6849549738690257],
  ])('epsilon lower bound(m=%i, r=%i, v=%i, delta=%f, p=%f)', (m, r, v, delta, p, expected) => {
    // The reference bisects 30 times, this code 40: they agree to the reference's resolution.
    expect(Math.abs(oneRunEpsilonLowerBound(m, r, v, delta, p) - expected)).toBeLessThan(1e-8);
  });

  it('with delta = 0 and every guess right, the bound is the closed form of q^r = beta', () => {
    for (const r of [10, 100, 1000]) {
      const closed = -Math.log(0.05 ** (-1 / r) - 1);
      expect(oneRunEpsilonLowerBound(r, r, r, 0, 0.05)).toBeCloseTo(closed, 8);
    }
  });

  it('chance-level guessing gives 0, and more right guesses never lower the bound', () => {
    expect(oneRunEpsilonLowerBound(1000, 200, 100, 1e-5, 0.05)).toBe(0);
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 300 }), fc.double({ min: 0, max: 1, noNaN: true }), (r, frac) => {
        const v = Math.floor(frac * (r - 1));
        return oneRunEpsilonLowerBound(2 * r, r, v + 1, 1e-5, 0.05) >= oneRunEpsilonLowerBound(2 * r, r, v, 1e-5, 0.05);
      }),
      { numRuns: 40 },
    );
  });

  it('refuses impossible counts', () => {
    expect(() => oneRunPValue(10, 20, 5, 1, 0)).toThrow(RangeError);
    expect(() => oneRunPValue(10, 5, 6, 1, 0)).toThrow(RangeError);
    expect(() => oneRunEpsilonLowerBound(10, 5, 3, 0, 1)).toThrow(/beta/);
  });
});

describe('OneHotGradientSource', () => {
  it('gives the same DP-SGD step as the materialised gradients', () => {
    const coords = Int32Array.from([0, 2, 2, 1, 3]);
    const mags = Float64Array.from([3, -0.5, 2, 0.25, 7]);
    const P = 4;
    const dense = new Float64Array(coords.length * P);
    coords.forEach((c, i) => (dense[i * P + c] = mags[i]));
    const config = { noiseMultiplier: 1.3, maxGradNorm: 1, sampleRate: 0.6, expectedBatchSize: 3, lossReduction: 'mean' as const };
    const step = (source: OneHotGradientSource | MaterializedGradientSource) =>
      dpSgdStep(source, config, { noise: createGaussianNoise(seededRandomForTests(5), { kind: 'plain' }), random: seededRandomForTests(9) }).gradient;
    const a = step(new OneHotGradientSource(coords, mags, P));
    const b = step(new MaterializedGradientSource(dense, P));
    for (let p = 0; p < P; p++) expect(a[p]).toBeCloseTo(b[p], 14);
  });

  it('refuses coordinates outside the parameters', () => {
    expect(() => new OneHotGradientSource(Int32Array.from([4]), Float64Array.from([1]), 4)).toThrow(RangeError);
  });
});

describe('one-run canary audit of dpSgdStep', () => {
  const base = { canaries: 1000, noiseMultiplier: 3, sampleRate: 0.5, steps: 10, delta: 1e-5, accountant: rdpAccountant };

  it('the default run: correct within the RDP claim, both broken variants detected', () => {
    for (const brokenVariant of ['noise-x0.1', 'no-clipping'] as const) {
      for (const seed of [1, 2, 3]) {
        const r = runPrivacyAudit({ ...base, seed, brokenVariant });
        expect(r.claimedEpsilon).toBeCloseTo(2.600896560633951, 12);
        expect(r.guesses).toBe(200);
        expect(r.correct.epsilonLowerBound).toBeLessThanOrEqual(r.claimedEpsilon);
        expect(r.correct.epsilonLowerBound).toBeGreaterThan(0); // the audit does see the (allowed) signal
        expect(r.broken.epsilonLowerBound).toBeGreaterThan(r.claimedEpsilon);
        expect(r.correctWithinClaim && r.brokenDetected).toBe(true);
      }
    }
  });

  it('stays within the tighter PRV claim too (Opacus default accountant)', async () => {
    const { loadAccountant } = await import('../../privacy/index.ts');
    const r = runPrivacyAudit({ ...base, seed: 1, accountant: await loadAccountant('prv') });
    expect(r.accountant).toBe('prv');
    expect(r.claimedEpsilon).toBeLessThan(2.6);
    expect(r.correct.epsilonLowerBound).toBeLessThanOrEqual(r.claimedEpsilon);
    expect(r.broken.epsilonLowerBound).toBeGreaterThan(r.claimedEpsilon);
  });

  it('seed 1 reproduces its figures', () => {
    const r = runPrivacyAudit({ ...base, seed: 1 });
    expect([r.correct.correct, r.broken.correct]).toEqual([132, 200]);
    expect(r.correct.epsilonLowerBound).toBeCloseTo(0.40785990562289953, 7);
    expect(r.broken.epsilonLowerBound).toBeCloseTo(4.16649017482996, 7);
  });

  it('the correct implementation never exceeds its claim over 30 seeds (one step, full batch: the Gaussian mechanism)', () => {
    for (let seed = 100; seed < 130; seed++) {
      const config = { canaries: 400, noiseMultiplier: 2, sampleRate: 1, steps: 1, delta: 1e-5, seed, guessFraction: 0.3 };
      const claim = rdpAccountant.epsilon([{ noiseMultiplier: 2, sampleRate: 1, steps: 1 }], 1e-5).epsilon;
      const r = runCanaryAudit(config);
      expect(r.epsilonLowerBound).toBeLessThanOrEqual(claim);
      expect(runCanaryAudit({ ...config, variant: 'noise-x0.1' }).epsilonLowerBound).toBeGreaterThan(claim);
    }
  });

  it('is deterministic in the seed and refuses bad configurations', () => {
    const c = { canaries: 200, noiseMultiplier: 2, sampleRate: 0.5, steps: 4, delta: 1e-5, seed: 42 };
    expect(runCanaryAudit(c)).toEqual(runCanaryAudit(c));
    expect(() => runCanaryAudit({ ...c, canaries: 1 })).toThrow(RangeError);
    expect(() => runCanaryAudit({ ...c, guessFraction: 0 })).toThrow(RangeError);
    expect(() => runCanaryAudit({ ...c, noiseMultiplier: -1 })).toThrow(RangeError);
  });
});

describe('fedwear privacy audit', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  async function run(args: string[]): Promise<string> {
    const program = new Command('fedwear').exitOverride();
    const privacy = registerPrivacy(program);
    privacy.commands.forEach((c) => c.exitOverride());
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    try {
      await program.parseAsync(['node', 'fedwear', 'privacy', 'audit', ...args]);
    } finally {
      spy.mockRestore();
    }
    return out;
  }

  it('prints the claim and both lower bounds', async () => {
    const text = await run([]);
    expect(text).toMatch(/claimed epsilon\s+2\.601/);
    expect(text).toMatch(/lower bound, correct\s+0\.408 \(132\/200 right, 95% confidence\) within the claim/);
    expect(text).toMatch(/lower bound, noise-x0\.1\s+4\.166 .*leak detected/);
    expect(process.exitCode ?? 0).toBe(0);
  });

  it('--json with --seed, --canaries and --broken', async () => {
    const r = JSON.parse(await run(['--seed', '7', '--canaries', '500', '--broken', 'no-clipping', '--json']));
    expect(r).toMatchObject({ canaries: 500, guesses: 100, seed: 7, correctWithinClaim: true, brokenDetected: true });
    expect(r.broken.variant).toBe('no-clipping');
    expect(r.correct.epsilonLowerBound).toBeLessThan(r.claimedEpsilon);
    expect(r.broken.epsilonLowerBound).toBeGreaterThan(r.claimedEpsilon);
  });

  it('exits 1 when the audit cannot detect the broken variant (too few guesses for the claim)', async () => {
    // sigma 1: claim ~11.5, beyond what 20 guesses can ever reject.
    const r = JSON.parse(await run(['--canaries', '100', '--noise-multiplier', '1', '--json']));
    expect(r.brokenDetected).toBe(false);
    expect(process.exitCode).toBe(1);
  });
});
