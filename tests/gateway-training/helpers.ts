/**
 * Synthetic users for the training tests (no vitest import: the crash-test child uses this too).
 * Population: y = 3 + w·x + noise; the user: the same plus a personal offset the head must learn.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { Mlp, MlpGradientSource, gaussian, initializeParams, seededRng, type MlpArchitecture } from '../../models/index.ts';
import { LedgerWriter, createBudget, rdpAccountant, type PrivacyBudget } from '../../privacy/index.ts';
import type { GlobalModel, RoundTrainingParameters } from '../../gateway/training/index.ts';

export const ARCH: MlpArchitecture = { layerSizes: [4, 8, 1], activation: 'tanh' };
export const DELTA = 1e-5;
const W = [0.8, -0.5, 0.3, 0.6];

export interface Data {
  X: Float32Array;
  y: Float32Array;
  n: number;
}

export function makeData(n: number, offset: number, seed: number): Data {
  const rng = seededRng(seed);
  const X = new Float32Array(n * 4);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let t = 3 + offset + 0.1 * gaussian(rng);
    for (let j = 0; j < 4; j++) {
      const x = gaussian(rng);
      X[i * 4 + j] = x;
      t += W[j] * x;
    }
    y[i] = t;
  }
  return { X, y, n };
}

let cached: GlobalModel | undefined;

/** A global model fitted (non-privately) to the population: the starting point of every round. */
export function globalModel(): GlobalModel {
  if (cached) return { ...cached, params: cached.params.slice() };
  const model = new Mlp(ARCH);
  initializeParams(model.layout, model.params, seededRng(7));
  const data = makeData(2000, 0, 11);
  const src = new MlpGradientSource(model, data.X, data.y);
  const g = new Float64Array(model.paramCount);
  const rng = seededRng(13);
  for (let step = 0; step < 1500; step++) {
    const batch = Int32Array.from({ length: 64 }, () => Math.floor(rng() * data.n)).sort();
    src.meanGradient(batch, g);
    for (let p = 0; p < g.length; p++) model.params[p] -= 0.05 * g[p];
  }
  cached = { arch: ARCH, params: Float32Array.from(model.params), version: 'global-v1' };
  return { ...cached, params: cached.params.slice() };
}

export function roundParams(over: Partial<RoundTrainingParameters> = {}): RoundTrainingParameters {
  const base: RoundTrainingParameters = {
    round: 1,
    epsilonPerRound: 3,
    maxGradNorm: 1,
    sampleRate: 0.05,
    steps: 200,
    delta: DELTA,
    accountant: 'rdp',
    mu: 0.01,
    lr: 0.1,
    optimizer: 'sgd',
  };
  const merged = { ...base, ...over };
  // Passing noiseMultiplier means "given sigma": drop the default target, as a round would.
  if (over.noiseMultiplier !== undefined && over.epsilonPerRound === undefined) delete merged.epsilonPerRound;
  return merged;
}

export function budget(epsilonMax: number): PrivacyBudget {
  return createBudget({ epsilonMax, delta: DELTA, accountant: rdpAccountant });
}

export function keyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ed25519');
}

export function openLedger(path: string, privateKey: KeyObject | string, epsilonMax?: number): Promise<LedgerWriter> {
  return LedgerWriter.open(path, { privateKey, userId: 'user-1', deviceId: 'gw-1', accountant: rdpAccountant, delta: DELTA, epsilonMax });
}

/** MAE (kcal/min) of `params` on data. */
export function mae(params: Float32Array, data: Data): number {
  const model = new Mlp(ARCH, { params });
  const pred = model.predict(data.X, data.n);
  let s = 0;
  for (let i = 0; i < data.n; i++) s += Math.abs(pred[i] - data.y[i]);
  return s / data.n;
}

export function l2(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}
