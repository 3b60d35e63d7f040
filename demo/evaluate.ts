/** Scores models on held-out feature rows with onnxruntime-node (the runtime the gateways serve with). */
import { FEATURE_COUNT, FEATURE_NAMES, Mlp, OnnxModelSession, errorMetrics, keytelPredictor, packageModel, type FeatureNormalization, type MlpArchitecture } from '../models/index.ts';

export interface HeldOut {
  X: Float32Array;
  y: Float64Array;
}

const rows = (h: HeldOut): number => h.X.length / FEATURE_COUNT;

export function keytelMae(h: HeldOut): number {
  return errorMetrics(Float64Array.from(keytelPredictor()(h.X, rows(h)) as ArrayLike<number>), h.y).mae;
}

/** MAE of an int8 ONNX model on each held-out set (one session for all of them). */
export async function onnxMaes(onnx: Uint8Array, sets: readonly HeldOut[]): Promise<number[]> {
  const session = await OnnxModelSession.create(onnx);
  try {
    const out: number[] = [];
    for (const h of sets) out.push(errorMetrics(await session.run(h.X, rows(h)), h.y).mae);
    return out;
  } finally {
    await session.release();
  }
}

/** The int8 ONNX of float parameters (as the aggregator re-quantizes a global model). */
export function int8Onnx(arch: MlpArchitecture, params: Float32Array, normalization: FeatureNormalization, version: string): Uint8Array {
  return packageModel(new Mlp(arch, { params }), { modelVersion: version, featureNames: FEATURE_NAMES, normalization, created: new Date(0) }).onnx;
}
