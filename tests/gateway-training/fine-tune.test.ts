import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fineTuneRound, type FineTuneInput, type RoundResult, type TrainedRound } from '../../gateway/training/index.ts';
import { dequantizeMlp, mlpLayout, OnnxModelSession, Mlp } from '../../models/index.ts';
import { seededRandomForTests, verifyLedgerFile, type LedgerWriter } from '../../privacy/index.ts';
import { ARCH, budget, globalModel, keyPair, l2, mae, makeData, openLedger, roundParams } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'fedwear-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const layout = mlpLayout(ARCH);
const OFFSET = 1.5;
const userTrain = makeData(1000, OFFSET, 101);
const userTest = makeData(500, OFFSET, 202);
let ledgerNo = 0;

async function freshLedger(epsilonMax?: number): Promise<{ writer: LedgerWriter; path: string; publicKey: ReturnType<typeof keyPair>['publicKey'] }> {
  const { privateKey, publicKey } = keyPair();
  const path = join(dir, `ledger-${ledgerNo++}.jsonl`);
  return { writer: await openLedger(path, privateKey, epsilonMax), path, publicKey };
}

function input(writer: LedgerWriter, over: Partial<FineTuneInput> = {}): FineTuneInput {
  return { features: userTrain.X, labels: userTrain.y, globalModel: globalModel(), round: roundParams(), budget: budget(10), ledger: writer, ...over };
}

function trained(r: RoundResult): TrainedRound {
  if (r.status !== 'trained') throw new Error(`round skipped: ${r.reason}`);
  return r;
}

const seeded = (seed: number) => ({ random: seededRandomForTests(seed), allowInsecureRandomness: true });

describe('fineTuneRound: learning', () => {
  let result: TrainedRound;
  let path: string;
  let publicKey: ReturnType<typeof keyPair>['publicKey'];
  beforeAll(async () => {
    const l = await freshLedger();
    path = l.path;
    publicKey = l.publicKey;
    result = trained(await fineTuneRound(input(l.writer), { ...seeded(1), exportOnnx: true }));
    await l.writer.close();
  });

  it('the personal model beats the global model on the user (the head learns the offset) at epsilon <= 3', () => {
    const global = globalModel();
    const before = mae(global.params, userTest);
    const after = mae(dequantizeMlp(result.quantizedModel), userTest);
    expect(before).toBeGreaterThan(1.2); // the global model misses the personal offset of 1.5
    expect(after).toBeLessThan(0.4 * before);
    expect(result.epsilonAfter).toBeLessThanOrEqual(3);
    expect(result.epsilonAfter).toBeGreaterThan(2.98);
    expect(result.stats.sigma).toBeGreaterThan(0.5);
    expect(result.localOnly.mae?.after).toBeLessThan(result.localOnly.mae?.before as number);
  });

  it('the update covers exactly the body, with the body tensor shapes; the head stays out of it', () => {
    expect(result.update).toBeInstanceOf(Float32Array);
    expect(result.update.length).toBe(layout.body.length);
    expect(result.bodyShapes).toEqual([[8, 4], [8]]);
    expect(result.bodyTensorNames).toEqual(['0.weight', '0.bias']);
    expect(result.bodyShapes.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0)).toBe(result.update.length);
    expect(result.personalHead.length).toBe(layout.head.length);
    const global = globalModel();
    // The head did move, but only the personal head carries it.
    expect(l2(result.personalHead.map((v, i) => v - global.params[layout.head.offset + i]))).toBeGreaterThan(0.1);
    // The int8 personal model is global body + update and the personal head, up to int8 rounding.
    const deq = dequantizeMlp(result.quantizedModel);
    const scales = result.quantizedModel.layers.map((l) => Math.max(...l.scales));
    for (let i = 0; i < layout.body.length; i++) expect(Math.abs(deq[i] - (global.params[i] + result.update[i]))).toBeLessThanOrEqual(scales[0] / 2 + 1e-6);
    for (let i = 0; i < layout.head.length; i++) expect(Math.abs(deq[layout.head.offset + i] - result.personalHead[i])).toBeLessThanOrEqual(scales[1] / 2 + 1e-6);
    expect(Object.keys(result).sort()).toEqual(['bodyShapes', 'bodyTensorNames', 'epsilonAfter', 'ledgerEntry', 'localOnly', 'onnxBytes', 'personalHead', 'quantizedModel', 'stats', 'status', 'update']);
  });

  it('records one ledger entry for the whole run, whose recomputed epsilon is the budget epsilonSpent', async () => {
    const verdict = await verifyLedgerFile(path, { publicKey, accountant: budget(10).accountant });
    expect(verdict.faults).toEqual([]);
    expect(verdict.entries).toBe(1);
    expect(result.ledgerEntry.spend).toMatchObject({ steps: 200, sampleRate: 0.05, noiseMultiplier: result.stats.sigma, maxGradNorm: 1, delta: 1e-5, accountant: 'rdp' });
    expect(result.ledgerEntry.modelVersion).toBe('global-v1');
    expect(result.ledgerEntry.round).toBe(1);
    const spent = budget(10).epsilonSpent([{ noiseMultiplier: result.stats.sigma, sampleRate: result.stats.q, steps: result.stats.steps }]);
    expect(verdict.epsilon).toBe(spent);
    expect(result.epsilonAfter).toBe(spent);
  });

  it('the ONNX export of the personal model serves the same outputs as the int8 TS forward', async () => {
    expect(result.onnxBytes?.length).toBeGreaterThan(100);
    const session = await OnnxModelSession.create(result.onnxBytes as Uint8Array);
    try {
      const ort = await session.run(userTest.X.subarray(0, 64 * 4), 64);
      const ts = new Mlp(ARCH, { params: dequantizeMlp(result.quantizedModel) }).predict(userTest.X, 64);
      for (let i = 0; i < 64; i++) expect(Math.abs(ort[i] - ts[i])).toBeLessThan(1e-4);
    } finally {
      await session.release();
    }
  });
});

describe('fineTuneRound: FedProx, noise and determinism', () => {
  it('with a large mu the body barely moves compared with mu = 0', async () => {
    const a = await freshLedger();
    const free = trained(await fineTuneRound(input(a.writer, { round: roundParams({ mu: 0, noiseMultiplier: 1 }), budget: budget(50) }), seeded(3)));
    const held = trained(await fineTuneRound(input(a.writer, { round: roundParams({ mu: 10, noiseMultiplier: 1 }), budget: budget(50) }), seeded(3)));
    await a.writer.close();
    // lr mu = 1: each step pulls the body all the way back, so only one step's noisy gradient remains.
    expect(l2(held.update)).toBeLessThan(0.1 * l2(free.update));
    expect(Math.max(...held.update.map(Math.abs))).toBeLessThan(0.02);
    // The head is not anchored: it still learns the offset.
    expect(mae(dequantizeMlp(held.quantizedModel), userTest)).toBeLessThan(0.6);
  });

  it('noise is present: two CSPRNG runs differ; a seeded source reproduces a run bit for bit', async () => {
    const a = await freshLedger();
    const round = roundParams({ noiseMultiplier: 1 });
    const b50 = budget(50);
    const r1 = trained(await fineTuneRound(input(a.writer, { round, budget: b50 })));
    const r2 = trained(await fineTuneRound(input(a.writer, { round, budget: b50 })));
    expect(Array.from(r1.update)).not.toEqual(Array.from(r2.update));
    const s1 = trained(await fineTuneRound(input(a.writer, { round, budget: b50 }), seeded(9)));
    const s2 = trained(await fineTuneRound(input(a.writer, { round, budget: b50 }), seeded(9)));
    expect(Array.from(s1.update)).toEqual(Array.from(s2.update));
    expect(Array.from(s1.personalHead)).toEqual(Array.from(s2.personalHead));
    // Same seed, same batches: only the noise scale differs, so sigma visibly changes the result.
    const s3 = trained(await fineTuneRound(input(a.writer, { round: roundParams({ noiseMultiplier: 2 }), budget: b50 }), seeded(9)));
    expect(Array.from(s3.update)).not.toEqual(Array.from(s1.update));
    expect(a.writer.entries.length).toBe(5);
    await a.writer.close();
  });

  it('a second round starts from the kept personal head', async () => {
    const a = await freshLedger();
    const first = trained(await fineTuneRound(input(a.writer, { round: roundParams({ noiseMultiplier: 1, steps: 20 }), budget: budget(50) }), seeded(4)));
    const second = trained(
      await fineTuneRound(input(a.writer, { personalHead: first.personalHead, round: roundParams({ noiseMultiplier: 1, steps: 20, round: 2 }), budget: budget(50) }), seeded(4)),
    );
    await a.writer.close();
    // The body restarts from the global model, so part of what the first round learned (the body
    // moved too) is gone, but the kept head still starts the second round far ahead of the global head.
    const [m1, m2] = [first.localOnly.mae, second.localOnly.mae];
    if (!m1 || !m2) throw new Error('diagnostics are on by default');
    expect(m2.before).toBeLessThan(0.7 * m1.before);
    expect(m2.after).toBeLessThan(m1.after);
  });

  it('normalises raw features with the manifest normalisation', async () => {
    const a = await freshLedger();
    const norm = { mean: [10, -2, 0.5, 100], std: [2, 4, 1, 25] };
    const raw = userTrain.X.map((v, i) => v * norm.std[i % 4] + norm.mean[i % 4]);
    const r1 = trained(await fineTuneRound(input(a.writer, { round: roundParams({ noiseMultiplier: 1, steps: 30 }), budget: budget(50) }), seeded(5)));
    const r2 = trained(await fineTuneRound(input(a.writer, { features: raw, normalization: norm, round: roundParams({ noiseMultiplier: 1, steps: 30 }), budget: budget(50) }), seeded(5)));
    await a.writer.close();
    for (let i = 0; i < r1.update.length; i++) expect(r2.update[i]).toBeCloseTo(r1.update[i], 4);
  });

  it('refuses insecure randomness unless allowed, before touching the ledger', async () => {
    const a = await freshLedger();
    await expect(fineTuneRound(input(a.writer), { random: seededRandomForTests(1) })).rejects.toThrow(/not cryptographically secure/);
    expect(a.writer.entries.length).toBe(0);
    await a.writer.close();
  });
});
