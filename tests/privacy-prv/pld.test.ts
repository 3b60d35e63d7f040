/**
 * Against an independent numerical accountant: Google dp_accounting 0.6.0's PLD accountant
 * (fixtures/prv-dp-accounting-pld-epsilon.json). Both discretise the same privacy loss; their
 * epsilons differ by discretisation error only. Required: our estimate within ±0.002 of PLD, our
 * upper bound (what we report) never below PLD.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_DOMAIN_POINTS, prvDomain, prvEpsilon } from '../../privacy/prv/index.ts';
import { DEFAULT_MAX_DOMAIN, FULL, TIMEOUT, fixture, history, label, type OpacusPrvFile, type PldFile } from './helpers.ts';

const pld = fixture<PldFile>('prv-dp-accounting-pld-epsilon.json').rows;
const opacus = fixture<OpacusPrvFile>('prv-opacus-1.5.4-prv-epsilon.json').rows;
const sizeOf = (r: PldFile['rows'][number]): number =>
  opacus.find((o) => o.q === r.q && o.sigma === r.sigma && o.steps === r.steps && o.delta === r.delta)?.predicted_domain_size ?? Infinity;

describe('PRV vs dp_accounting PLD', () => {
  it('the PLD file and the Opacus grid are the same 53 cases', () => {
    expect(pld.length).toBe(53);
    expect(pld.every((r) => Number.isFinite(sizeOf(r)))).toBe(true);
  });
  const rows = pld.filter((r) => sizeOf(r) <= (FULL ? DEFAULT_MAX_DOMAIN_POINTS : DEFAULT_MAX_DOMAIN));
  for (const r of rows) {
    it(`${label(r)}: |estimate - PLD| <= 0.002 and upper >= PLD`, () => {
      const out = prvEpsilon(history(r), r.delta);
      expect(Math.abs(out.estimate - r.eps)).toBeLessThanOrEqual(0.002);
      expect(out.epsilon).toBeGreaterThanOrEqual(r.eps);
      expect(out.lower).toBeLessThanOrEqual(r.eps);
    }, TIMEOUT);
  }
  it('the cases beyond the memory guard are refused before anything is allocated', () => {
    const big = pld.filter((r) => sizeOf(r) > DEFAULT_MAX_DOMAIN_POINTS);
    expect(big.length).toBe(4);
    for (const r of big) expect(() => prvDomain(history(r), r.delta)).toThrow(RangeError);
  });
});
