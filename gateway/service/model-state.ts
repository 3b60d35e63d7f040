/**
 * The models a gateway holds: the global model (from models/base until the aggregator publishes
 * one on model/current), the personal head its rounds train with the personal int8 ONNX it serves
 * (one file), and the error-feedback residual. All under `<dataDir>/model/`, each file replaced atomically (temp
 * file, fsync, rename, fsync of the folder), so a crash leaves the old or the new file, never half.
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeModelMessage } from '../../federation/index.ts';
import {
  FEATURE_NAMES,
  exportInt8Onnx,
  loadModelDir,
  manifestArchitecture,
  parseManifest,
  quantizeMlp,
  verifyModelBytes,
  type FeatureNormalization,
  type MlpArchitecture,
  type ModelManifest,
} from '../../models/index.ts';
import { fsyncDir } from '../store/index.ts';
import { assemblePersonalModel, type GlobalModel } from '../training/index.ts';

export interface GlobalModelState {
  version: string;
  /** SHA-256 of the int8 ONNX bytes (manifest.onnx.sha256): what a round announcement names. */
  onnxSha256: string;
  manifest: ModelManifest;
  onnx: Uint8Array;
  /** float32 parameters, models/layout.ts order: what rounds fine-tune from. */
  params: Float32Array;
  arch: MlpArchitecture;
  /** The manifest's standardisation: the float parameters take normalised features. */
  normalization: FeatureNormalization;
  source: 'base' | 'broker';
  /** The verified model/current message, when it came from the broker. */
  message?: Uint8Array;
}

export class ModelRejectedError extends Error {
  override name = 'ModelRejectedError';
}

function checkUsable(manifest: ModelManifest, params: Float32Array, where: string): MlpArchitecture {
  const arch = manifestArchitecture(manifest);
  if (JSON.stringify(manifest.features.names) !== JSON.stringify(FEATURE_NAMES)) {
    throw new ModelRejectedError(`${where}: its features [${manifest.features.names.join(', ')}] are not the ones this gateway computes [${FEATURE_NAMES.join(', ')}]`);
  }
  if (!manifest.features.normalizationInGraph) throw new ModelRejectedError(`${where}: the ONNX graph must standardise its input itself (features.normalizationInGraph), the gateway feeds raw features`);
  if (params.length !== manifest.architecture.paramCount) throw new ModelRejectedError(`${where}: ${params.length} parameters, the manifest's architecture has ${manifest.architecture.paramCount}`);
  for (let i = 0; i < params.length; i++) if (!Number.isFinite(params[i])) throw new ModelRejectedError(`${where}: parameter ${i} is not finite`);
  return arch;
}

/**
 * A model/current message (federation's FWMD), checked before anything uses it: the parameters
 * against the manifest's paramsSha256 (decodeModelMessage), the manifest against models/'s schema,
 * the ONNX bytes against the manifest's size and SHA-256, the feature order against this gateway's.
 * `expectedSha256` (from a round announcement) must then name these ONNX bytes.
 */
export function verifyModelMessage(bytes: Uint8Array, expectedSha256?: string): GlobalModelState {
  let msg: ReturnType<typeof decodeModelMessage>;
  let manifest: ModelManifest;
  try {
    msg = decodeModelMessage(bytes);
    manifest = parseManifest(msg.manifest);
    verifyModelBytes(manifest, msg.onnx);
  } catch (err) {
    throw new ModelRejectedError(`model/current: ${(err as Error).message}`);
  }
  if (expectedSha256 !== undefined && manifest.onnx.sha256 !== expectedSha256) {
    throw new ModelRejectedError(`model/current: ONNX SHA-256 ${manifest.onnx.sha256} is not the ${expectedSha256} the round names`);
  }
  const arch = checkUsable(manifest, msg.params, `model ${manifest.modelVersion}`);
  return {
    version: manifest.modelVersion,
    onnxSha256: manifest.onnx.sha256,
    manifest,
    onnx: msg.onnx,
    params: msg.params,
    arch,
    normalization: { mean: [...manifest.features.mean], std: [...manifest.features.std] },
    source: 'broker',
    message: bytes,
  };
}

/** models/base (or any `fedwear model pretrain` output): loadModelDir cross-checks every file. */
export async function loadBaseModel(dir: string): Promise<GlobalModelState> {
  const m = await loadModelDir(dir);
  const params = m.params.model.params instanceof Float32Array ? m.params.model.params : Float32Array.from(m.params.model.params);
  const arch = checkUsable(m.manifest, params, `base model ${dir}`);
  return { version: m.manifest.modelVersion, onnxSha256: m.manifest.onnx.sha256, manifest: m.manifest, onnx: m.onnx, params, arch, normalization: m.params.normalization, source: 'base' };
}

export function globalModelOf(g: GlobalModelState): GlobalModel {
  return { arch: g.arch, params: g.params, version: g.version };
}

/** The personal int8 model: the global body with the gateway's own head, standardisation in the graph. */
export function personalOnnx(g: GlobalModelState, head: Float32Array): Uint8Array {
  return exportInt8Onnx(quantizeMlp(assemblePersonalModel(globalModelOf(g), head)), { normalization: g.normalization });
}

export interface PersonalState {
  /** Layer sizes the head belongs to; a head of another architecture is discarded. */
  layerSizes: number[];
  head: Float32Array;
  /** The global version the head was last trained on, and in which round. */
  trainedOn: string;
  round: number;
}

const FILES = { global: 'global.fwmd', personal: 'personal.json', residual: 'residual.json' } as const;

export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let done = 0;
    while (done < bytes.length) done += fs.writeSync(fd, bytes, done);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

/** `<dataDir>/model/`: reads tolerate a missing file (first start) and refuse a damaged one loudly. */
export class ModelFiles {
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  private file(name: keyof typeof FILES): string {
    return path.join(this.dir, FILES[name]);
  }

  private read(name: keyof typeof FILES): Buffer | null {
    try {
      return fs.readFileSync(this.file(name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  readGlobal(): GlobalModelState | null {
    const b = this.read('global');
    return b ? verifyModelMessage(new Uint8Array(b)) : null;
  }

  writeGlobal(g: GlobalModelState): void {
    if (!g.message) throw new Error('only a model received from the broker is stored');
    writeFileAtomic(this.file('global'), g.message);
  }

  readPersonal(): { state: PersonalState; onnx: Uint8Array } | null {
    const b = this.read('personal');
    if (!b) return null;
    const j = JSON.parse(b.toString('utf8')) as { layerSizes: number[]; head: number[]; trainedOn: string; round: number; onnxBase64: string };
    return { state: { layerSizes: j.layerSizes, head: Float32Array.from(j.head), trainedOn: j.trainedOn, round: j.round }, onnx: new Uint8Array(Buffer.from(j.onnxBase64, 'base64')) };
  }

  /** Head and live ONNX in one file, so one atomic rename keeps them consistent. */
  writePersonal(state: PersonalState, onnx: Uint8Array): void {
    const j = { layerSizes: state.layerSizes, head: Array.from(state.head), trainedOn: state.trainedOn, round: state.round, onnxBase64: Buffer.from(onnx).toString('base64') };
    writeFileAtomic(this.file('personal'), JSON.stringify(j));
  }

  readResidual(length: number): Float32Array {
    const b = this.read('residual');
    if (!b) return new Float32Array(length);
    const values = (JSON.parse(b.toString('utf8')) as { values: number[] }).values;
    // A residual of another body size belongs to an old architecture: start over.
    return values.length === length ? Float32Array.from(values) : new Float32Array(length);
  }

  writeResidual(residual: Float32Array): void {
    writeFileAtomic(this.file('residual'), JSON.stringify({ values: Array.from(residual) }));
  }
}
