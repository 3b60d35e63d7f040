/**
 * A shippable model: ONNX bytes (int8 by default, what gateways serve) plus the manifest that
 * describes and hashes them.
 */
import type { Mlp } from './mlp.ts';
import { type ModelManifest, buildManifest } from './manifest.ts';
import type { FeatureNormalization } from './normalization.ts';
import { type OnnxWeightForm, exportFloatOnnx, exportInt8Onnx } from './onnx-export.ts';
import { quantizeMlp } from './quantize.ts';

export interface PackageOptions {
  modelVersion: string;
  featureNames: readonly string[];
  /** Feature standardisation; identity (mean 0, std 1) if absent. */
  normalization?: FeatureNormalization;
  /** Put the standardisation into the graph (default: true when a normalization is given). */
  normalizationInGraph?: boolean;
  /** int8 weights (default) or float32. */
  quantized?: boolean;
  form?: OnnxWeightForm;
  created?: Date;
}

export interface ModelPackage {
  manifest: ModelManifest;
  onnx: Uint8Array;
}

export function packageModel(model: Mlp, opts: PackageOptions): ModelPackage {
  const n = model.inputSize;
  const normalization = opts.normalization ?? { mean: new Array<number>(n).fill(0), std: new Array<number>(n).fill(1) };
  const inGraph = opts.normalizationInGraph ?? opts.normalization !== undefined;
  const quantized = opts.quantized ?? true;
  const form = opts.form ?? 'gemm';
  const exportOpts = { form, normalization: inGraph ? normalization : undefined };
  const onnx = quantized ? exportInt8Onnx(quantizeMlp(model), exportOpts) : exportFloatOnnx(model, exportOpts);
  const manifest = buildManifest({
    modelVersion: opts.modelVersion,
    arch: model.arch,
    featureNames: opts.featureNames,
    normalization,
    normalizationInGraph: inGraph,
    quantized,
    weightForm: form,
    onnxBytes: onnx,
    created: opts.created,
  });
  return { manifest, onnx };
}
