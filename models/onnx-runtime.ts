/**
 * Serving the exported model with onnxruntime-node (shared/notes/edge-stack.md §3): one intra-op
 * thread (two were slower at every size measured there), the native runtime loaded only when a
 * session is first created, so importing models/ stays cheap for code that never serves.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { ONNX_INPUT_NAME, ONNX_OUTPUT_NAME } from './onnx-export.ts';

type Ort = typeof import('onnxruntime-node');
let ortPromise: Promise<Ort> | null = null;

function loadOrt(): Promise<Ort> {
  ortPromise ??= import('onnxruntime-node').catch((err: unknown) => {
    ortPromise = null;
    throw new Error(`onnxruntime-node could not be loaded: ${(err as Error).message}`);
  });
  return ortPromise;
}

export interface OnnxSessionOptions {
  /** Default 1 (see the note above). */
  intraOpNumThreads?: number;
  /**
   * Default 'all'. At 'extended' and above ORT 1.30 rewrites DequantizeLinear + MatMul (the 'matmul'
   * export form) into com.microsoft:MatMulNBits, whose results differ from the dequantized math by
   * ~1e-2 relative; the default 'gemm' form is not rewritten that way (tests/models/onnx.test.ts).
   */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

export class OnnxModelSession {
  private constructor(
    private readonly ort: Ort,
    private readonly session: InferenceSession,
    /** Feature count the graph declares. */
    readonly nFeatures: number,
  ) {}

  static async create(bytes: Uint8Array, opts: OnnxSessionOptions = {}): Promise<OnnxModelSession> {
    const ort = await loadOrt();
    let session: InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        intraOpNumThreads: opts.intraOpNumThreads ?? 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        logSeverityLevel: 3,
        graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
      });
    } catch (err) {
      throw new Error(`onnxruntime rejected the model (${bytes.length} bytes): ${(err as Error).message}`);
    }
    if (!session.inputNames.includes(ONNX_INPUT_NAME) || !session.outputNames.includes(ONNX_OUTPUT_NAME)) {
      await session.release();
      throw new Error(`ONNX model must have input ${ONNX_INPUT_NAME} and output ${ONNX_OUTPUT_NAME}; it has inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]`);
    }
    return new OnnxModelSession(ort, session, declaredFeatureCount(session));
  }

  /** Runs `batch` rows of features [batch × nFeatures]; returns kcal_per_min [batch × outputs]. */
  async run(features: Float32Array, batch: number): Promise<Float32Array> {
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`OnnxModelSession.run: batch must be a positive integer, got ${batch}`);
    if (features.length !== batch * this.nFeatures) {
      throw new Error(`OnnxModelSession.run: ${features.length} values for ${batch} rows of ${this.nFeatures} features`);
    }
    const input = new this.ort.Tensor('float32', features, [batch, this.nFeatures]);
    const out = await this.session.run({ [ONNX_INPUT_NAME]: input });
    const t = out[ONNX_OUTPUT_NAME] as Tensor;
    return t.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function declaredFeatureCount(session: InferenceSession): number {
  const meta = session.inputMetadata.find((m) => m.name === ONNX_INPUT_NAME);
  const n = meta?.isTensor ? meta.shape[1] : undefined;
  if (typeof n !== 'number' || !(n > 0)) throw new Error(`ONNX model: input ${ONNX_INPUT_NAME} must have shape [batch, nFeatures] with a fixed nFeatures`);
  return n;
}
