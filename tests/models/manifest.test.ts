import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { buildManifest, manifestArchitecture, parseManifest, sha256Hex, verifyModelBytes } from '../../models/manifest.ts';
import { packageModel } from '../../models/model-package.ts';
import { OnnxModelSession } from '../../models/onnx-runtime.ts';
import { Mlp } from '../../models/mlp.ts';
import { dequantizeMlp, quantizeMlp } from '../../models/quantize.ts';
import { normalizeRows } from '../../models/normalization.ts';
import { maxAbsErr, randomProblem } from './helpers.ts';

const arch = { layerSizes: [4, 8, 1], activation: 'tanh' as const };
const names = ['hr', 'hr_above_rest', 'cadence', 'weight_kg'];
const norm = { mean: [90, 20, 60, 70], std: [15, 10, 40, 12] };

describe('model manifest', () => {
  it('sha256Hex is the SHA-256 of the bytes', () => {
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('packageModel: the manifest hash and size match the ONNX bytes, and the bytes serve the model', async () => {
    const { model, X } = randomProblem(arch, 16, 3, 'float32');
    const raw = Float32Array.from(X, (v, j) => norm.mean[j % 4] + norm.std[j % 4] * v);
    const pkg = packageModel(model, { modelVersion: '2026.11.28-1', featureNames: names, normalization: norm, created: new Date('2026-11-28T12:00:00Z') });
    expect(pkg.manifest.onnx.sha256).toBe(createHash('sha256').update(pkg.onnx).digest('hex'));
    expect(pkg.manifest.onnx.sizeBytes).toBe(pkg.onnx.length);
    expect(pkg.manifest.quantization.scheme).toBe('int8-symmetric-per-channel');
    expect(pkg.manifest.architecture).toEqual({ layerSizes: [4, 8, 1], activation: 'tanh', bodyLayers: [0], headLayer: 1, paramCount: 49 });
    expect(pkg.manifest.features.normalizationInGraph).toBe(true);
    expect(pkg.manifest.created).toBe('2026-11-28T12:00:00.000Z');
    verifyModelBytes(pkg.manifest, pkg.onnx);
    // Round trip through JSON, as it travels over MQTT.
    const back = parseManifest(JSON.parse(JSON.stringify(pkg.manifest)));
    expect(back).toEqual(pkg.manifest);
    expect(manifestArchitecture(back)).toEqual(arch);
    const s = await OnnxModelSession.create(pkg.onnx);
    try {
      const ref = new Mlp(arch, { params: dequantizeMlp(quantizeMlp(model)) }).predict(normalizeRows(raw, 16, norm), 16);
      expect(maxAbsErr(await s.run(raw, 16), ref)).toBeLessThanOrEqual(1e-4);
    } finally {
      await s.release();
    }
  });

  it('verifyModelBytes refuses altered or truncated bytes', () => {
    const { model } = randomProblem(arch, 1, 4, 'float32');
    const pkg = packageModel(model, { modelVersion: 'v1', featureNames: names, quantized: false });
    expect(pkg.manifest.quantization).toEqual({ scheme: 'none' });
    const flipped = Uint8Array.from(pkg.onnx);
    flipped[flipped.length - 5] ^= 1;
    expect(() => verifyModelBytes(pkg.manifest, flipped)).toThrow(/SHA-256 .* does not match/);
    expect(() => verifyModelBytes(pkg.manifest, pkg.onnx.subarray(1))).toThrow(/bytes are \d+ long, manifest says/);
  });

  it('parseManifest names every bad field', () => {
    const { model } = randomProblem(arch, 1, 4, 'float32');
    const good = packageModel(model, { modelVersion: 'v1', featureNames: names }).manifest;
    const bad = structuredClone(good) as Record<string, any>;
    bad.onnx.sha256 = 'XYZ';
    bad.features.names = ['hr', 'hr'];
    bad.features.std[2] = 0;
    bad.architecture.headLayer = 0;
    bad.formatVersion = 2;
    let msg = '';
    try {
      parseManifest(bad);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/onnx\.sha256/);
    expect(msg).toMatch(/features\.std\.2/);
    expect(msg).toMatch(/formatVersion/);
    expect(() => parseManifest({ ...good, features: { ...good.features, names: ['a', 'a', 'b', 'c'] } })).toThrow(/features\.names: names must be unique/);
    expect(() => parseManifest({ ...good, architecture: { ...good.architecture, headLayer: 0 } })).toThrow(/architecture\.headLayer: must be 1/);
    expect(() => buildManifest({ modelVersion: 'v', arch, featureNames: ['a'], normalization: norm, normalizationInGraph: false, quantized: true, weightForm: 'gemm', onnxBytes: new Uint8Array(3) })).toThrow(/features\.names: has 1 names for 4 model inputs/);
  });
});
