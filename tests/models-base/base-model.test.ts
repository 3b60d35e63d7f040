/**
 * The committed base model (models/base): its bytes are the ones its manifest describes, they are
 * re-derivable from its float parameters, onnxruntime runs them like the TS int8 forward, and its
 * configuration is the documented command's.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FEATURE_COUNT,
  FEATURE_NAMES,
  MODEL_FILES,
  OnnxModelSession,
  type LoadedModelDir,
  type BaseModelEvaluation,
  dequantizeMlp,
  defaultPretrainConfig,
  canonicalPretrainConfig,
  loadModelDir,
  normalizeRows,
  packageModel,
  pretrainCommand,
  quantizeMlp,
  sha256Hex,
  windowRecords,
  demographicProfile,
} from '../../models/index.ts';
import { makeUsers, simulateDevice } from '../../device-sim/index.ts';

const DIR = path.resolve(import.meta.dirname, '../../models/base');
const file = (name: string) => new Uint8Array(readFileSync(path.join(DIR, name)));
/** |onnxruntime − TS| allowed on a prediction: both compute the same float32 graph; only summation order differs. */
const ORT_TOLERANCE_KCAL = 1e-4;

let base: LoadedModelDir;
beforeAll(async () => {
  base = await loadModelDir(DIR);
});

describe('models/base', () => {
  it('has the bytes its manifests describe (size and SHA-256)', () => {
    const m = JSON.parse(readFileSync(path.join(DIR, MODEL_FILES.manifest), 'utf8'));
    const onnx = file(MODEL_FILES.int8Onnx);
    expect(onnx.length).toBe(m.onnx.sizeBytes);
    expect(sha256Hex(onnx)).toBe(m.onnx.sha256);
    const fm = JSON.parse(readFileSync(path.join(DIR, MODEL_FILES.floatManifest), 'utf8'));
    expect(sha256Hex(file(MODEL_FILES.floatOnnx))).toBe(fm.onnx.sha256);
  });

  it('is base-1: int8 per-channel, the 12 features, normalisation in the graph', () => {
    expect(base.manifest.modelVersion).toBe('base-1');
    expect(base.manifest.quantization.scheme).toBe('int8-symmetric-per-channel');
    expect(base.floatManifest.quantization.scheme).toBe('none');
    expect(base.manifest.features.names).toEqual([...FEATURE_NAMES]);
    expect(base.manifest.features.normalizationInGraph).toBe(true);
    expect(base.manifest.architecture.layerSizes).toEqual([FEATURE_COUNT, 32, 16, 1]);
    expect(base.manifest.created).toBe('2026-01-01T00:00:00.000Z');
  });

  it('re-exports to the same ONNX bytes from params.json (cheap reproducibility check)', () => {
    const opts = {
      modelVersion: base.manifest.modelVersion,
      featureNames: base.params.featureNames,
      normalization: base.params.normalization,
      created: new Date(base.manifest.created),
    };
    const int8 = packageModel(base.params.model, { ...opts, quantized: true });
    const float = packageModel(base.params.model, { ...opts, quantized: false });
    expect(sha256Hex(int8.onnx)).toBe(base.manifest.onnx.sha256);
    expect(sha256Hex(float.onnx)).toBe(base.floatManifest.onnx.sha256);
    expect(JSON.stringify(int8.manifest)).toBe(JSON.stringify(base.manifest));
  });

  it('was made by the documented command with the default configuration', () => {
    const info = JSON.parse(readFileSync(path.join(DIR, MODEL_FILES.pretrain), 'utf8'));
    expect(info.config).toEqual(canonicalPretrainConfig(defaultPretrainConfig(1)));
    expect(info.reproduce).toBe(pretrainCommand(defaultPretrainConfig(1)));
    expect(info.reproduce).toBe('fedwear model pretrain --seed 1 --out DIR');
  });

  it('beats Keytel on held-out session windows, and int8 costs little against float (evaluation.json)', () => {
    const e = JSON.parse(readFileSync(path.join(DIR, MODEL_FILES.evaluationJson), 'utf8')) as BaseModelEvaluation;
    for (const id of ['heldOutDays-labelled', 'heldOutUsers-labelled']) {
      const t = e.tables.find((x) => x.id === id)!;
      const mae = (p: string) => t.report.metrics[p].overall.mae;
      expect(t.report.metrics['base int8'].overall.n).toBeGreaterThan(500);
      expect(mae('base int8')).toBeLessThan(0.75 * mae('Keytel'));
      expect(Math.abs(mae('base int8') - mae('base float'))).toBeLessThan(0.05);
    }
    expect(e.quantization.maxAbsOrtMinusTsInt8).toBeLessThan(ORT_TOLERANCE_KCAL);
  });

  describe('onnxruntime on simulated windows', () => {
    let session: OnnxModelSession;
    let floatSession: OnnxModelSession;
    beforeAll(async () => {
      session = await OnnxModelSession.create(base.onnx);
      floatSession = await OnnxModelSession.create(base.floatOnnx);
    });
    afterAll(async () => {
      await session.release();
      await floatSession.release();
    });

    it(`matches the TS int8 forward within ${ORT_TOLERANCE_KCAL} kcal/min, and the float graph the TS float forward`, async () => {
      // Two people, 40 minutes of back-to-back sessions each: a few dozen windows of varied effort.
      const users = makeUsers({ count: 2, seed: 11, clusters: ['endurance-runners', 'cyclists'] });
      const rows: number[] = [];
      for (const u of users) {
        const { windows } = windowRecords(simulateDevice(u, { startMs: Date.UTC(2026, 2, 2, 9), durationS: 2400, seed: 11, schedule: 'session' }), demographicProfile(u));
        for (const w of windows) rows.push(...w.features);
      }
      const n = rows.length / FEATURE_COUNT;
      expect(n).toBeGreaterThan(60);
      const X = Float32Array.from(rows);
      const ort = await session.run(X, n);
      const model = base.params.model;
      const Xn = normalizeRows(X, n, base.params.normalization);
      const tsInt8 = model.predict(Xn, n, undefined, dequantizeMlp(quantizeMlp(model)));
      let maxDiff = 0;
      for (let i = 0; i < n; i++) maxDiff = Math.max(maxDiff, Math.abs(ort[i] - tsInt8[i]));
      expect(maxDiff).toBeLessThan(ORT_TOLERANCE_KCAL);
      const ortFloat = await floatSession.run(X, n);
      const tsFloat = model.predict(Xn, n);
      for (let i = 0; i < n; i++) expect(Math.abs(ortFloat[i] - tsFloat[i])).toBeLessThan(ORT_TOLERANCE_KCAL);
      // Plausible energy: between sleep and hard running for these people.
      const lo = Math.min(...ort);
      const hi = Math.max(...ort);
      expect(lo).toBeGreaterThan(0.5);
      expect(hi).toBeLessThan(30);
      expect(hi - lo).toBeGreaterThan(3);
    });
  });
});
