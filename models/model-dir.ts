/**
 * A model directory (e.g. models/base/): what `fedwear model pretrain` writes and what a gateway
 * loads.
 *
 *   model.onnx           int8 weight-only QDQ ONNX (normalisation in the graph: takes raw features)
 *   manifest.json        its manifest (hash, size, architecture, feature names, normalisation)
 *   model.float.onnx     the float32 ONNX of the same parameters
 *   manifest.float.json  its manifest
 *   params.json          the float32 parameters the gateway fine-tunes from (they take *normalised*
 *                        features: normalizeRows with the manifest's mean and std first)
 *   pretrain.json        how the model was made (configuration, data summary)
 *   evaluation.md/.json  held-out evaluation
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { type MlpArchitecture, mlpLayout } from './layout.ts';
import { type ModelManifest, parseManifest, sha256Hex, verifyModelBytes, manifestArchitecture } from './manifest.ts';
import { Mlp } from './mlp.ts';
import type { FeatureNormalization } from './normalization.ts';

export const MODEL_FILES = {
  int8Onnx: 'model.onnx',
  manifest: 'manifest.json',
  floatOnnx: 'model.float.onnx',
  floatManifest: 'manifest.float.json',
  params: 'params.json',
  pretrain: 'pretrain.json',
  evaluationMd: 'evaluation.md',
  evaluationJson: 'evaluation.json',
} as const;

export const PARAMS_FORMAT = 'fedwear-mlp-params';
export const PARAMS_FORMAT_VERSION = 1;

/** SHA-256 of the parameters as little-endian float32 bytes: identifies them independently of JSON. */
export function paramsSha256(params: Float32Array): string {
  const bytes = new Uint8Array(params.length * 4);
  const view = new DataView(bytes.buffer);
  for (let j = 0; j < params.length; j++) view.setFloat32(j * 4, params[j], true);
  return sha256Hex(bytes);
}

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

export const ParamsFileSchema = z.object({
  format: z.literal(PARAMS_FORMAT),
  formatVersion: z.literal(PARAMS_FORMAT_VERSION),
  modelVersion: z.string().min(1),
  architecture: z.object({ layerSizes: z.array(z.number().int().positive()).min(2), activation: z.enum(['tanh', 'relu']) }),
  featureNames: z.array(z.string().min(1)),
  normalization: z.object({ mean: z.array(finite), std: z.array(finite) }),
  /** Flat float32 values in the torch layout (models/layout.ts). */
  params: z.array(finite),
  paramsSha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ParamsFile = z.infer<typeof ParamsFileSchema>;

export function paramsFileJson(modelVersion: string, model: Mlp, featureNames: readonly string[], normalization: FeatureNormalization): string {
  const p32 = model.params instanceof Float32Array ? model.params : Float32Array.from(model.params);
  const file: ParamsFile = {
    format: PARAMS_FORMAT,
    formatVersion: PARAMS_FORMAT_VERSION,
    modelVersion,
    architecture: { layerSizes: [...model.arch.layerSizes], activation: model.arch.activation },
    featureNames: [...featureNames],
    normalization: { mean: [...normalization.mean], std: [...normalization.std] },
    params: Array.from(p32),
    paramsSha256: paramsSha256(p32),
  };
  return `${JSON.stringify(file)}\n`;
}

export interface LoadedParams {
  modelVersion: string;
  model: Mlp;
  featureNames: string[];
  normalization: FeatureNormalization;
}

/** Parses params.json (untrusted): checks the schema, the count against the architecture and the hash. */
export function parseParamsFile(text: string): LoadedParams {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`params file is not JSON: ${(err as Error).message}`);
  }
  const r = ParamsFileSchema.safeParse(raw);
  if (!r.success) throw new Error(`invalid params file: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  const f = r.data;
  const arch: MlpArchitecture = f.architecture;
  const layout = mlpLayout(arch);
  if (f.params.length !== layout.paramCount) throw new Error(`params file: ${f.params.length} parameters, architecture ${arch.layerSizes.join('-')} has ${layout.paramCount}`);
  const nIn = arch.layerSizes[0];
  if (f.featureNames.length !== nIn || f.normalization.mean.length !== nIn || f.normalization.std.length !== nIn) {
    throw new Error(`params file: featureNames, normalization.mean and normalization.std must each have ${nIn} entries`);
  }
  const model = new Mlp(arch, { params: f.params });
  const h = paramsSha256(model.params as Float32Array);
  if (h !== f.paramsSha256) throw new Error(`params file: parameter SHA-256 ${h} does not match the recorded ${f.paramsSha256}`);
  return { modelVersion: f.modelVersion, model, featureNames: f.featureNames, normalization: f.normalization };
}

export interface LoadedModelDir {
  dir: string;
  manifest: ModelManifest;
  /** int8 ONNX bytes, verified against the manifest. */
  onnx: Uint8Array;
  floatManifest: ModelManifest;
  floatOnnx: Uint8Array;
  params: LoadedParams;
}

/** Loads and cross-checks a model directory: both ONNX files against their manifests, params against both. */
export async function loadModelDir(dir: string): Promise<LoadedModelDir> {
  const read = (name: string): Promise<Buffer> =>
    readFile(path.join(dir, name)).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`model directory ${dir}: cannot read ${name} (${err.code ?? err.message})`);
    });
  const manifest = parseManifest(JSON.parse((await read(MODEL_FILES.manifest)).toString('utf8')));
  const floatManifest = parseManifest(JSON.parse((await read(MODEL_FILES.floatManifest)).toString('utf8')));
  const onnx = new Uint8Array(await read(MODEL_FILES.int8Onnx));
  const floatOnnx = new Uint8Array(await read(MODEL_FILES.floatOnnx));
  verifyModelBytes(manifest, onnx);
  verifyModelBytes(floatManifest, floatOnnx);
  const params = parseParamsFile((await read(MODEL_FILES.params)).toString('utf8'));
  for (const m of [manifest, floatManifest]) {
    const arch = manifestArchitecture(m);
    if (JSON.stringify(arch) !== JSON.stringify(params.model.arch)) throw new Error(`model directory ${dir}: params architecture ${params.model.arch.layerSizes.join('-')} differs from the manifest's`);
    if (m.modelVersion !== params.modelVersion) throw new Error(`model directory ${dir}: params are ${params.modelVersion}, manifest is ${m.modelVersion}`);
    if (JSON.stringify(m.features.names) !== JSON.stringify(params.featureNames)) throw new Error(`model directory ${dir}: feature names differ between params and manifest`);
    if (JSON.stringify(m.features.mean) !== JSON.stringify(params.normalization.mean) || JSON.stringify(m.features.std) !== JSON.stringify(params.normalization.std)) {
      throw new Error(`model directory ${dir}: normalisation differs between params and manifest`);
    }
  }
  return { dir, manifest, onnx, floatManifest, floatOnnx, params };
}

/** Writes files into dir (created if needed), each atomically (temp file, then rename). */
export async function writeModelFiles(dir: string, files: Readonly<Record<string, Uint8Array | string>>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, data] of Object.entries(files)) {
    const target = path.join(dir, name);
    const tmp = `${target}.tmp-${process.pid}`;
    await writeFile(tmp, data);
    await rename(tmp, target);
  }
}
