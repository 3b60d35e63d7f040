import { describe, expect, it } from 'vitest';
import { coordinateMedian, fedAvg, normBounding, trimmedMean, type ClientUpdate, type RoundPolicy } from '../../federation/index.ts';
import { gaussianVector } from './helpers.ts';

const round: RoundPolicy = { durationMs: 1000, quorum: 1, dp: { minNoiseMultiplier: 1, maxGradNorm: 1, delta: 1e-5 } };
const P = 200;
const dist = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.sqrt(Array.from(a, (v, i) => (v - b[i]) ** 2).reduce((s, x) => s + x, 0));

// 20 honest clients agree on a direction μ (norm 1) up to small noise; 3 attackers send −50μ
// (model replacement, boosted; Bagdasaryan et al. 2020) or large random vectors.
const mu = gaussianVector(P, 1);
const muNorm = Math.hypot(...mu);
for (let i = 0; i < P; i++) mu[i] /= muNorm;
const honest: ClientUpdate[] = Array.from({ length: 20 }, (_, k) => {
  const noise = gaussianVector(P, 100 + k, 0.01);
  return { delta: mu.map((m, i) => m + noise[i]), weight: 1, clientId: `honest-${k}` };
});
const attacks: [string, ClientUpdate[]][] = [
  ['boosted sign flip', Array.from({ length: 3 }, (_, k) => ({ delta: mu.map((m) => -50 * m), weight: 1, clientId: `evil-${k}` }))],
  ['large random', Array.from({ length: 3 }, (_, k) => ({ delta: gaussianVector(P, 900 + k, 20), weight: 1, clientId: `evil-${k}` }))],
];
const zero = new Float32Array(P);
const honestMean = fedAvg({ round }).aggregate(zero, honest, {}).params;

describe.each(attacks)('3 of 23 updates poisoned (%s)', (_, poison) => {
  const all = [...honest.slice(0, 10), ...poison, ...honest.slice(10)];
  const fedavgShift = dist(fedAvg({ round }).aggregate(zero, all, {}).params, honestMean);

  it('moves FedAvg far from the honest average', () => {
    expect(fedavgShift).toBeGreaterThan(5);
  });

  it.each([
    ['coordinate median', coordinateMedian({ round })],
    ['trimmed mean, β = 0.2', trimmedMean({ round, trimFraction: 0.2 })],
  ])('barely moves the %s', (__, s) => {
    const shift = dist(s.aggregate(zero, all, {}).params, honestMean);
    expect(shift).toBeLessThan(0.05); // 5% of the honest update's norm
    expect(shift).toBeLessThan(fedavgShift / 100);
  });

  it('bounds the attack under norm bounding (M = 1.5): at most 3M/23 plus the dilution of the honest mean', () => {
    const shift = dist(normBounding({ round, maxNorm: 1.5 }).aggregate(zero, all, {}).params, honestMean);
    expect(shift).toBeLessThanOrEqual((3 * 1.5) / 23 + (3 / 23) * Math.hypot(...honestMean) + 1e-6);
    expect(shift).toBeLessThan(fedavgShift / 10);
  });
});
