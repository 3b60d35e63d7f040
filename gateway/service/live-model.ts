/**
 * The model serving live estimates: one onnxruntime-node session at a time. Runs and swaps go
 * through one promise chain, so a swap never releases a session a run is still using and every
 * window is estimated by exactly one model, named in its estimate.
 */
import { OnnxModelSession } from '../../models/index.ts';

export interface LiveModelInfo {
  version: string;
  personal: boolean;
  onnxBytes: number;
}

export class LiveModel {
  private session: OnnxModelSession | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  info: LiveModelInfo | null = null;

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Loads the bytes into a new session, then retires the old one; resolves once the new one serves. */
  swap(onnx: Uint8Array, version: string, personal: boolean): Promise<void> {
    return this.enqueue(async () => {
      const next = await OnnxModelSession.create(onnx);
      const old = this.session;
      this.session = next;
      this.info = { version, personal, onnxBytes: onnx.length };
      await old?.release();
    });
  }

  /** kcal/min for `n` rows of raw features, with the version of the model that produced them. */
  run(features: Float32Array, n: number): Promise<{ values: Float32Array; version: string; seconds: number }> {
    return this.enqueue(async () => {
      const s = this.session;
      if (!s || !this.info) throw new Error('no live model loaded');
      const t0 = process.hrtime.bigint();
      const values = await s.run(features, n);
      return { values, version: this.info.version, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
    });
  }

  /** Waits for queued runs and swaps. */
  idle(): Promise<void> {
    return this.enqueue(async () => undefined);
  }

  close(): Promise<void> {
    return this.enqueue(async () => {
      await this.session?.release();
      this.session = null;
    });
  }
}
