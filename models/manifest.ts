/**
 * The model manifest: what a gateway needs to trust and use a published model before loading the
 * ONNX bytes (published retained beside them on fedwear/v1/model/current, design.md). Validated with
 * zod; every error names the field.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { MlpArchitecture } from './layout.ts';
import type { FeatureNormalization } from './normalization.ts';
import { ONNX_INPUT_NAME, ONNX_OPSET, ONNX_OUTPUT_NAME, type OnnxWeightForm } from './onnx-export.ts';

export const MANIFEST_FORMAT_VERSION = 1;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

export const ManifestSchema = z
  .object({
    formatVersion: z.literal(MANIFEST_FORMAT_VERSION),
    modelVersion: z.string().min(1).max(128),
    architecture: z.object({
      layerSizes: z.array(z.number().int().positive()).min(2),
      activation: z.enum(['tanh', 'relu']),
      /** Linear-layer indices of the shared (federated) body: all but the last. */
      bodyLayers: z.array(z.number().int().nonnegative()),
      /** Linear-layer index of the personal head: the last. */
      headLayer: z.number().int().nonnegative(),
      paramCount: z.number().int().positive(),
    }),
    features: z.object({
      names: z.array(z.string().min(1)).min(1),
      mean: z.array(finite),
      std: z.array(finite.refine((s) => s > 0, 'must be positive')),
      /** True when the ONNX graph standardises its input itself (it then takes raw features). */
      normalizationInGraph: z.boolean(),
    }),
    quantization: z.discriminatedUnion('scheme', [
      z.object({ scheme: z.literal('none') }),
      z.object({
        scheme: z.literal('int8-symmetric-per-channel'),
        /** Weights only; biases and activations stay float32. */
        weights: z.literal('int8'),
        zeroPoint: z.literal(0),
        qmax: z.literal(127),
      }),
    ]),
    onnx: z.object({
      sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
      sizeBytes: z.number().int().positive(),
      opset: z.number().int().min(13),
      weightForm: z.enum(['gemm', 'matmul']),
      input: z.literal(ONNX_INPUT_NAME),
      output: z.literal(ONNX_OUTPUT_NAME),
    }),
    created: z.iso.datetime(),
  })
  .superRefine((m, ctx) => {
    const sizes = m.architecture.layerSizes;
    const nLayers = sizes.length - 1;
    const nIn = sizes[0];
    if (m.features.names.length !== nIn) ctx.addIssue({ code: 'custom', path: ['features', 'names'], message: `has ${m.features.names.length} names for ${nIn} model inputs` });
    if (new Set(m.features.names).size !== m.features.names.length) ctx.addIssue({ code: 'custom', path: ['features', 'names'], message: 'names must be unique' });
    if (m.features.mean.length !== nIn) ctx.addIssue({ code: 'custom', path: ['features', 'mean'], message: `has ${m.features.mean.length} entries for ${nIn} inputs` });
    if (m.features.std.length !== nIn) ctx.addIssue({ code: 'custom', path: ['features', 'std'], message: `has ${m.features.std.length} entries for ${nIn} inputs` });
    const body = Array.from({ length: nLayers - 1 }, (_, l) => l);
    if (JSON.stringify(m.architecture.bodyLayers) !== JSON.stringify(body)) ctx.addIssue({ code: 'custom', path: ['architecture', 'bodyLayers'], message: `must be [${body.join(', ')}]` });
    if (m.architecture.headLayer !== nLayers - 1) ctx.addIssue({ code: 'custom', path: ['architecture', 'headLayer'], message: `must be ${nLayers - 1}` });
    let p = 0;
    for (let l = 0; l < nLayers; l++) p += sizes[l] * sizes[l + 1] + sizes[l + 1];
    if (m.architecture.paramCount !== p) ctx.addIssue({ code: 'custom', path: ['architecture', 'paramCount'], message: `is ${m.architecture.paramCount}, layer sizes give ${p}` });
  });

export type ModelManifest = z.infer<typeof ManifestSchema>;

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

/** Validates an untrusted manifest (parsed JSON); throws naming every bad field. */
export function parseManifest(value: unknown): ModelManifest {
  const r = ManifestSchema.safeParse(value);
  if (!r.success) throw new Error(`invalid model manifest: ${describeIssues(r.error)}`);
  return r.data;
}

export interface ManifestInput {
  modelVersion: string;
  arch: MlpArchitecture;
  featureNames: readonly string[];
  normalization: FeatureNormalization;
  normalizationInGraph: boolean;
  quantized: boolean;
  weightForm: OnnxWeightForm;
  onnxBytes: Uint8Array;
  /** Defaults to now. */
  created?: Date;
}

export function buildManifest(input: ManifestInput): ModelManifest {
  const sizes = input.arch.layerSizes;
  const nLayers = sizes.length - 1;
  let paramCount = 0;
  for (let l = 0; l < nLayers; l++) paramCount += sizes[l] * sizes[l + 1] + sizes[l + 1];
  return parseManifest({
    formatVersion: MANIFEST_FORMAT_VERSION,
    modelVersion: input.modelVersion,
    architecture: {
      layerSizes: [...sizes],
      activation: input.arch.activation,
      bodyLayers: Array.from({ length: nLayers - 1 }, (_, l) => l),
      headLayer: nLayers - 1,
      paramCount,
    },
    features: {
      names: [...input.featureNames],
      mean: [...input.normalization.mean],
      std: [...input.normalization.std],
      normalizationInGraph: input.normalizationInGraph,
    },
    quantization: input.quantized ? { scheme: 'int8-symmetric-per-channel', weights: 'int8', zeroPoint: 0, qmax: 127 } : { scheme: 'none' },
    onnx: {
      sha256: sha256Hex(input.onnxBytes),
      sizeBytes: input.onnxBytes.length,
      opset: ONNX_OPSET,
      weightForm: input.weightForm,
      input: ONNX_INPUT_NAME,
      output: ONNX_OUTPUT_NAME,
    },
    created: (input.created ?? new Date()).toISOString(),
  });
}

/** Throws unless `bytes` are the ONNX model the manifest describes (size, then SHA-256). */
export function verifyModelBytes(manifest: ModelManifest, bytes: Uint8Array): void {
  if (bytes.length !== manifest.onnx.sizeBytes) {
    throw new Error(`model ${manifest.modelVersion}: ONNX bytes are ${bytes.length} long, manifest says ${manifest.onnx.sizeBytes}`);
  }
  const h = sha256Hex(bytes);
  if (h !== manifest.onnx.sha256) throw new Error(`model ${manifest.modelVersion}: ONNX SHA-256 ${h} does not match manifest ${manifest.onnx.sha256}`);
}

/** The architecture a manifest describes, to rebuild an Mlp from it. */
export function manifestArchitecture(m: ModelManifest): MlpArchitecture {
  return { layerSizes: [...m.architecture.layerSizes], activation: m.architecture.activation };
}
