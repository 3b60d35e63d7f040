/**
 * A PerSampleGradientSource over per-sample gradients held in memory: for tests, benchmarks,
 * conformance vectors and models small enough to materialise [N][P].
 */
import type { PerSampleGradientSource } from './types.ts';

export class MaterializedGradientSource implements PerSampleGradientSource {
  readonly numExamples: number;
  readonly paramCount: number;
  readonly tensorSizes: readonly number[];
  private readonly offsets: number[];
  private batch: Int32Array = new Int32Array(0);

  /** grads: row-major [numExamples][paramCount]; tensorSizes must add up to paramCount. */
  constructor(
    private readonly grads: Float64Array | Float32Array,
    paramCount: number,
    tensorSizes: readonly number[] = [paramCount],
  ) {
    if (!Number.isSafeInteger(paramCount) || paramCount < 1) throw new RangeError(`paramCount must be a positive integer (got ${paramCount})`);
    if (grads.length % paramCount !== 0) throw new RangeError(`grads length ${grads.length} is not a multiple of paramCount ${paramCount}`);
    const total = tensorSizes.reduce((a, b) => a + b, 0);
    if (total !== paramCount) throw new RangeError(`tensorSizes add up to ${total}, expected paramCount ${paramCount}`);
    this.numExamples = grads.length / paramCount;
    this.paramCount = paramCount;
    this.tensorSizes = [...tensorSizes];
    this.offsets = [];
    let o = 0;
    for (const s of tensorSizes) {
      this.offsets.push(o);
      o += s;
    }
  }

  perSampleNorms(indices: Int32Array, normsOut: Float64Array, perTensorNormsOut?: Float64Array): void {
    const L = this.tensorSizes.length;
    if (normsOut.length < indices.length) throw new RangeError(`normsOut has length ${normsOut.length}, need ${indices.length}`);
    if (perTensorNormsOut && perTensorNormsOut.length < indices.length * L) throw new RangeError(`perTensorNormsOut has length ${perTensorNormsOut.length}, need ${indices.length * L}`);
    for (let b = 0; b < indices.length; b++) {
      const idx = indices[b];
      if (!(idx >= 0 && idx < this.numExamples)) throw new RangeError(`indices[${b}] = ${idx} is out of range [0, ${this.numExamples})`);
      const row = idx * this.paramCount;
      let total = 0;
      for (let l = 0; l < L; l++) {
        let s = 0;
        const start = row + this.offsets[l];
        const end = start + this.tensorSizes[l];
        for (let p = start; p < end; p++) s += this.grads[p] * this.grads[p];
        total += s;
        if (perTensorNormsOut) perTensorNormsOut[b * L + l] = Math.sqrt(s);
      }
      normsOut[b] = Math.sqrt(total);
    }
    this.batch = indices.slice();
  }

  addWeightedGradientSum(weights: Float64Array, out: Float64Array, perTensorWeights?: Float64Array): void {
    const L = this.tensorSizes.length;
    if (out.length !== this.paramCount) throw new RangeError(`out has length ${out.length}, expected paramCount ${this.paramCount}`);
    for (let b = 0; b < this.batch.length; b++) {
      const row = this.batch[b] * this.paramCount;
      for (let l = 0; l < L; l++) {
        const w = perTensorWeights ? perTensorWeights[b * L + l] : weights[b];
        const off = this.offsets[l];
        const end = off + this.tensorSizes[l];
        for (let p = off; p < end; p++) out[p] += w * this.grads[row + p];
      }
    }
  }
}
