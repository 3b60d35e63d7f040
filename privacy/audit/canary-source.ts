/**
 * Gradient canaries for a white-box audit: every example's per-sample gradient is a scaled basis
 * vector, g_i = magnitude_i * e_{coordinate_i}. Canaries get their own coordinates, so each
 * canary's whole contribution to the released sum lands on a coordinate no other example touches:
 * the strongest membership signal DP-SGD has to hide, which makes the audit tight (Nasr et al.
 * 2021, arXiv 2101.04535, "gradient canaries"; Steinke et al. 2023, §6).
 *
 * Sparse, so a step costs O(batch + paramCount) instead of materialising [N][P].
 */
import type { PerSampleGradientSource } from '../types.ts';

export class OneHotGradientSource implements PerSampleGradientSource {
  readonly numExamples: number;
  readonly paramCount: number;
  readonly tensorSizes: readonly number[];
  private batch: Int32Array = new Int32Array(0);

  constructor(
    private readonly coordinates: Int32Array,
    private readonly magnitudes: Float64Array,
    paramCount: number,
  ) {
    if (!Number.isSafeInteger(paramCount) || paramCount < 1) throw new RangeError(`paramCount must be a positive integer (got ${paramCount})`);
    if (coordinates.length !== magnitudes.length) throw new RangeError(`coordinates (${coordinates.length}) and magnitudes (${magnitudes.length}) differ in length`);
    coordinates.forEach((c, i) => {
      if (!(c >= 0 && c < paramCount)) throw new RangeError(`coordinates[${i}] = ${c} is out of range [0, ${paramCount})`);
    });
    magnitudes.forEach((g, i) => {
      if (!Number.isFinite(g)) throw new RangeError(`magnitudes[${i}] is not finite`);
    });
    this.numExamples = coordinates.length;
    this.paramCount = paramCount;
    this.tensorSizes = [paramCount];
  }

  perSampleNorms(indices: Int32Array, normsOut: Float64Array, perTensorNormsOut?: Float64Array): void {
    if (normsOut.length < indices.length) throw new RangeError(`normsOut has length ${normsOut.length}, need ${indices.length}`);
    for (let b = 0; b < indices.length; b++) {
      const idx = indices[b];
      if (!(idx >= 0 && idx < this.numExamples)) throw new RangeError(`indices[${b}] = ${idx} is out of range [0, ${this.numExamples})`);
      normsOut[b] = Math.abs(this.magnitudes[idx]);
      if (perTensorNormsOut) perTensorNormsOut[b] = normsOut[b];
    }
    this.batch = indices.slice();
  }

  addWeightedGradientSum(weights: Float64Array, out: Float64Array, perTensorWeights?: Float64Array): void {
    if (out.length !== this.paramCount) throw new RangeError(`out has length ${out.length}, expected paramCount ${this.paramCount}`);
    for (let b = 0; b < this.batch.length; b++) {
      const idx = this.batch[b];
      const w = perTensorWeights ? perTensorWeights[b] : weights[b];
      out[this.coordinates[idx]] += w * this.magnitudes[idx];
    }
  }
}
