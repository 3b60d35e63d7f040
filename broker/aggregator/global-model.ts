/**
 * The global model as the aggregator holds it: float parameters plus what it takes to ship them
 * (architecture, features, normalisation). Only the body is federated; the head in the global model
 * stays what the base model had, since every gateway keeps its own.
 */
import type { TensorShape } from '../../federation/index.ts';
import { encodeModelMessage } from '../../federation/index.ts';
import { Mlp, loadModelDir, mlpLayout, packageModel, type FeatureNormalization, type MlpArchitecture, type ModelManifest } from '../../models/index.ts';

export interface ModelSpec {
  readonly arch: MlpArchitecture;
  readonly featureNames: readonly string[];
  readonly normalization: FeatureNormalization;
  /** Shapes of the shared body's tensors, in layout order: what updates must carry. */
  readonly bodyShapes: readonly TensorShape[];
  /** The body is the prefix params[0 .. bodyLength). */
  readonly bodyLength: number;
  readonly paramCount: number;
}

export interface GlobalModel {
  readonly version: string;
  /** The round whose aggregation produced it; 0 for the base model. */
  readonly round: number;
  readonly params: Float32Array;
  /** The manifest's `created`, kept so a republished model has the same bytes. */
  readonly created: string;
}

/** What goes on model/current. */
export interface PublishedModel {
  readonly bytes: Uint8Array;
  readonly manifest: ModelManifest;
}

export function modelSpec(arch: MlpArchitecture, featureNames: readonly string[], normalization: FeatureNormalization): ModelSpec {
  const layout = mlpLayout(arch);
  const body = layout.tensors.filter((t) => t.part === 'body');
  if (body.length === 0) throw new Error(`model ${arch.layerSizes.join('-')} has no hidden layer: nothing to federate`);
  return {
    arch: layout.arch,
    featureNames: [...featureNames],
    normalization: { mean: [...normalization.mean], std: [...normalization.std] },
    bodyShapes: body.map((t) => [...t.shape]),
    bodyLength: layout.body.length,
    paramCount: layout.paramCount,
  };
}

export interface BaseModel {
  spec: ModelSpec;
  model: GlobalModel;
  published: PublishedModel;
}

/** Loads and verifies a model directory (models/README.md): the starting global model. */
export async function loadBaseModel(dir: string): Promise<BaseModel> {
  const loaded = await loadModelDir(dir);
  const p = loaded.params;
  const spec = modelSpec(p.model.arch, p.featureNames, p.normalization);
  const params = Float32Array.from(p.model.params);
  const model: GlobalModel = { version: loaded.manifest.modelVersion, round: 0, params, created: loaded.manifest.created };
  // The base model ships exactly the bytes in the directory, already verified against the manifest.
  return { spec, model, published: { bytes: encodeModelMessage(loaded.manifest, loaded.onnx, params), manifest: loaded.manifest } };
}

/** Re-quantizes to int8 ONNX and wraps manifest, ONNX and float parameters in the model message. */
export function publishModel(spec: ModelSpec, model: GlobalModel): PublishedModel {
  const mlp = new Mlp(spec.arch, { params: model.params });
  const pkg = packageModel(mlp, { modelVersion: model.version, featureNames: spec.featureNames, normalization: spec.normalization, created: new Date(model.created) });
  return { bytes: encodeModelMessage(pkg.manifest, pkg.onnx, model.params), manifest: pkg.manifest };
}

/** θ with its body replaced; the head is copied unchanged. */
export function withBody(params: Float32Array, body: Float32Array): Float32Array {
  if (body.length > params.length) throw new RangeError(`body of ${body.length} values does not fit ${params.length} parameters`);
  const out = Float32Array.from(params);
  out.set(body, 0);
  return out;
}
