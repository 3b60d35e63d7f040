/**
 * Exported ONNX models run in real onnxruntime-node sessions (1 intra-op thread) against the TS
 * forward pass. Tolerances:
 *  - float32 model vs TS float32 forward: max |Δ| <= 1e-5 × max(1, max |output|) (relative to the
 *    output scale; measured ~1e-7: only summation order differs);
 *  - int8 model vs TS forward with the dequantized weights: max |Δ| <= 1e-4 (measured ~1e-7: ORT's
 *    DequantizeLinear is the same float32 product as dequantizeRows).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Mlp } from '../../models/mlp.ts';
import { dequantizeMlp, quantizeMlp } from '../../models/quantize.ts';
import { ONNX_INPUT_NAME, ONNX_OUTPUT_NAME, exportFloatOnnx, exportInt8Onnx } from '../../models/onnx-export.ts';
import { OnnxModelSession } from '../../models/onnx-runtime.ts';
import { fitNormalization, normalizeRows } from '../../models/normalization.ts';
import type { MlpArchitecture } from '../../models/layout.ts';
import { maxAbsErr, randomProblem } from './helpers.ts';

const sessions: OnnxModelSession[] = [];
async function open(bytes: Uint8Array, opts?: Parameters<typeof OnnxModelSession.create>[1]): Promise<OnnxModelSession> {
  const s = await OnnxModelSession.create(bytes, opts);
  sessions.push(s);
  return s;
}
afterAll(async () => {
  for (const s of sessions) await s.release();
});

const floatTol = (ref: ArrayLike<number>) => 1e-5 * Math.max(1, ...Array.from(ref, Math.abs));
const INT8_TOL = 1e-4;

const N = 64;
const archs: MlpArchitecture[] = [
  { layerSizes: [8, 32, 16, 1], activation: 'tanh' },
  { layerSizes: [10, 24, 24, 1], activation: 'relu' },
];

describe('ONNX parity with onnxruntime-node', () => {
  for (const arch of archs) {
    const { model, X } = randomProblem(arch, N, 77, 'float32');
    const Xf = X as Float32Array;
    // Outputs around typical kcal/min values rather than around 0.
    model.tensor(`${2 * (arch.layerSizes.length - 2)}.bias`)[0] = 6.5;
    const ref = model.predict(Xf, N);
    const qm = quantizeMlp(model);
    const refInt8 = new Mlp(arch, { params: dequantizeMlp(qm) }).predict(Xf, N);

    for (const form of ['gemm', 'matmul'] as const) {
      it(`${arch.layerSizes.join('-')} ${arch.activation}, float32, ${form}`, async () => {
        const s = await open(exportFloatOnnx(model, { form }));
        expect(s.nFeatures).toBe(arch.layerSizes[0]);
        const out = await s.run(Xf, N);
        expect(out.length).toBe(N);
        expect(maxAbsErr(out, ref)).toBeLessThanOrEqual(floatTol(ref));
      });
    }

    it(`${arch.layerSizes.join('-')} ${arch.activation}, int8 QDQ gemm (per-channel axis 0) equals the TS dequantized forward`, async () => {
      const s = await open(exportInt8Onnx(qm));
      const out = await s.run(Xf, N);
      expect(maxAbsErr(out, refInt8)).toBeLessThanOrEqual(INT8_TOL);
      // And it really is the int8 model, not the float one.
      expect(maxAbsErr(out, ref)).toBeGreaterThan(1e-5);
    });

    it(`${arch.layerSizes.join('-')} ${arch.activation}, int8 QDQ matmul (per-channel axis 1, transposed) equals it with basic graph optimisation`, async () => {
      const s = await open(exportInt8Onnx(qm, { form: 'matmul' }), { graphOptimizationLevel: 'basic' });
      expect(maxAbsErr(await s.run(Xf, N), refInt8)).toBeLessThanOrEqual(INT8_TOL);
    });
  }

  it('ORT 1.30 at full optimisation turns DQ+MatMul into MatMulNBits, which departs from the int8 math (why gemm is the default)', async () => {
    const arch = archs[0];
    const { model, X } = randomProblem(arch, N, 77, 'float32');
    const refInt8 = new Mlp(arch, { params: dequantizeMlp(quantizeMlp(model)) }).predict(X, N);
    const s = await open(exportInt8Onnx(quantizeMlp(model), { form: 'matmul' }));
    expect(maxAbsErr(await s.run(X as Float32Array, N), refInt8)).toBeGreaterThan(INT8_TOL);
  });

  it('standardisation in the graph: raw features in, same outputs as the TS model on normalised features', async () => {
    const arch = archs[1];
    const { model, X } = randomProblem(arch, N, 5, 'float32');
    const raw = Float32Array.from(X, (v, j) => 70 + 20 * v + (j % 10)); // e.g. heart rates
    const norm = fitNormalization(raw, N, 10);
    const ref = model.predict(normalizeRows(raw, N, norm), N);
    const s = await open(exportFloatOnnx(model, { normalization: norm }));
    expect(maxAbsErr(await s.run(raw, N), ref)).toBeLessThanOrEqual(floatTol(ref));
    const qm = quantizeMlp(model);
    const refInt8 = new Mlp(arch, { params: dequantizeMlp(qm) }).predict(normalizeRows(raw, N, norm), N);
    const sq = await open(exportInt8Onnx(qm, { normalization: norm }));
    expect(maxAbsErr(await sq.run(raw, N), refInt8)).toBeLessThanOrEqual(INT8_TOL);
  });

  it('batch 1 runs, bytes are deterministic, int8 is smaller, bad input is refused clearly', async () => {
    const arch = archs[0];
    const { model, X } = randomProblem(arch, 1, 9, 'float32');
    const a = exportInt8Onnx(quantizeMlp(model));
    const b = exportInt8Onnx(quantizeMlp(model.clone()));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(a.length).toBeLessThan(exportFloatOnnx(model).length);
    const s = await open(a);
    const out = await s.run(X as Float32Array, 1);
    expect(out.length).toBe(1);
    await expect(s.run(new Float32Array(7), 1)).rejects.toThrow(/7 values for 1 rows of 8 features/);
    await expect(OnnxModelSession.create(new Uint8Array([1, 2, 3]))).rejects.toThrow(/onnxruntime rejected the model/);
    expect([ONNX_INPUT_NAME, ONNX_OUTPUT_NAME]).toEqual(['features', 'kcal_per_min']);
  });
});
