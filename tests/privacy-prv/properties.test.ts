/**
 * Properties any correct accountant has, checked on grids chosen to be cheap: PRV is tighter than
 * RDP in the practical regime, epsilon grows with steps, with q and with 1/sigma, and histories
 * compose consistently (merging, order, heterogeneous entries against an independent transcription).
 */
import { describe, expect, it } from 'vitest';
import { rdpEpsilon } from '../../privacy/rdp.ts';
import { prvEpsilon } from '../../privacy/prv/index.ts';
import type { MechanismStep } from '../../privacy/types.ts';
import { FULL, fixture, relErr } from './helpers.ts';

const DELTA = 1e-5;
const one = (sigma: number, q: number, steps: number): MechanismStep[] => [{ noiseMultiplier: sigma, sampleRate: q, steps }];

describe('PRV <= RDP in the practical regime', () => {
  const qs = FULL ? [0.001, 0.01, 0.05, 0.1] : [0.001, 0.01, 0.05];
  const sigmas = FULL ? [0.8, 1.0, 1.1, 1.5, 2, 4] : [0.8, 1.1, 2];
  const steps = FULL ? [1, 10, 100, 1000] : [1, 10, 50];
  for (const q of qs) {
    it(`q=${q}: every (sigma, steps) with RDP eps <= 10 has PRV upper bound below the RDP bound`, () => {
      let checked = 0;
      for (const s of sigmas) {
        for (const n of steps) {
          const rdp = rdpEpsilon(one(s, q, n), DELTA).epsilon;
          if (rdp > 10) continue;
          expect(prvEpsilon(one(s, q, n), DELTA).epsilon).toBeLessThan(rdp);
          checked++;
        }
      }
      expect(checked).toBeGreaterThanOrEqual(5);
    });
  }
});

describe('monotonicity', () => {
  it('epsilon (all three numbers) grows with the number of steps', () => {
    for (const [s, q] of [[1.1, 0.01], [0.8, 0.05], [2, 0.1]]) {
      const outs = [1, 10, 60, 200].map((n) => prvEpsilon(one(s, q, n), DELTA));
      for (let i = 1; i < outs.length; i++) {
        expect(outs[i].epsilon).toBeGreaterThan(outs[i - 1].epsilon);
        expect(outs[i].estimate).toBeGreaterThan(outs[i - 1].estimate);
        expect(outs[i].lower).toBeGreaterThan(outs[i - 1].lower);
      }
    }
  });
  it('epsilon falls as sigma grows (grows with 1/sigma)', () => {
    for (const [q, n] of [[0.01, 100], [0.1, 10], [1, 1]]) {
      const outs = [0.7, 0.9, 1.2, 1.6, 2.5, 5].map((s) => prvEpsilon(one(s, q, n), DELTA).epsilon);
      for (let i = 1; i < outs.length; i++) expect(outs[i]).toBeLessThan(outs[i - 1]);
    }
  });
  it('epsilon grows with the sampling rate', () => {
    const outs = [0.001, 0.01, 0.05, 0.2, 1].map((q) => prvEpsilon(one(1.1, q, 10), DELTA).estimate);
    for (let i = 1; i < outs.length; i++) expect(outs[i]).toBeGreaterThan(outs[i - 1]);
  });
  it('a larger delta buys a smaller epsilon', () => {
    const outs = [1e-7, 1e-6, 1e-5, 1e-3].map((d) => prvEpsilon(one(1.0, 0.02, 50), d).estimate);
    for (let i = 1; i < outs.length; i++) expect(outs[i]).toBeLessThan(outs[i - 1]);
  });
});

describe('composition of histories', () => {
  it('consecutive identical entries are merged, as Opacus step() merges them: bit-identical result', () => {
    const merged = prvEpsilon(one(1.1, 0.01, 120), DELTA);
    const split = prvEpsilon([...one(1.1, 0.01, 50), ...one(1.1, 0.01, 70)], DELTA);
    expect(split).toEqual(merged);
  });
  it('the order of different entries changes epsilon only by round-off', () => {
    const a = one(1.1, 0.01, 100)[0];
    const b = one(0.8, 0.02, 30)[0];
    const ab = prvEpsilon([a, b], DELTA);
    const ba = prvEpsilon([b, a], DELTA);
    expect(relErr(ab.epsilon, ba.epsilon)).toBeLessThan(1e-9);
  });
  it('adding a step never lowers epsilon (beyond round-off)', () => {
    const base = prvEpsilon(one(1.0, 0.01, 200), DELTA);
    const more = prvEpsilon([...one(1.0, 0.01, 200), ...one(3.0, 0.001, 5)], DELTA);
    expect(more.estimate).toBeGreaterThanOrEqual(base.estimate - 1e-9);
  });

  interface HetRow {
    history: MechanismStep[];
    delta: number;
    eps_lower: number;
    eps_estimate: number;
    eps_upper: number;
    domain_size: number;
  }
  const het = fixture<{ rows: HetRow[] }>('prv-heterogeneous-numpy.json').rows;
  for (const r of FULL ? het : het.filter((x) => x.domain_size <= 80_000)) {
    const name = r.history.map((h) => `(${h.noiseMultiplier}, ${h.sampleRate}, ${h.steps})`).join(' ');
    it(`heterogeneous ${name} equals the numpy/scipy transcription of Opacus v1.5.4`, () => {
      const out = prvEpsilon(r.history, r.delta);
      expect(out.domainSize).toBe(r.domain_size);
      expect(relErr(out.epsilon, r.eps_upper)).toBeLessThan(1e-7);
      expect(relErr(out.estimate, r.eps_estimate)).toBeLessThan(1e-7);
      expect(relErr(out.lower, r.eps_lower)).toBeLessThan(1e-7);
    });
  }
});
