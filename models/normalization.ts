/**
 * Per-feature standardisation, x' = (x - mean) / std, computed exactly as the exported ONNX graph
 * does it (a float32 Sub, then a float32 Div, each rounded), so the TS model and onnxruntime see the
 * same normalised inputs bit for bit.
 */
export interface FeatureNormalization {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

export function validateNormalization(norm: FeatureNormalization, nFeatures: number): void {
  if (norm.mean.length !== nFeatures || norm.std.length !== nFeatures) {
    throw new Error(`normalization: mean has ${norm.mean.length} and std ${norm.std.length} entries, the model has ${nFeatures} features`);
  }
  norm.mean.forEach((m, j) => {
    if (!Number.isFinite(m)) throw new Error(`normalization: mean[${j}] is not finite`);
  });
  norm.std.forEach((s, j) => {
    if (!(s > 0) || !Number.isFinite(s)) throw new Error(`normalization: std[${j}] must be positive and finite, got ${s}`);
  });
}

/** out[i, j] = f32(f32(X[i, j] - mean_j) / std_j) for n rows of `cols` features; mean and std as float32. */
export function normalizeRows(X: ArrayLike<number>, n: number, norm: FeatureNormalization, out: Float32Array | Float64Array = new Float32Array(n * norm.mean.length)): Float32Array | Float64Array {
  const cols = norm.mean.length;
  const mean = Float32Array.from(norm.mean);
  const std = Float32Array.from(norm.std);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < cols; j++) {
      const c = i * cols + j;
      out[c] = Math.fround(Math.fround(X[c] - mean[j]) / std[j]);
    }
  }
  return out;
}

/** Mean and (population) standard deviation per column of X [n × cols]; a constant column gets std 1. */
export function fitNormalization(X: ArrayLike<number>, n: number, cols: number): FeatureNormalization {
  if (n < 1) throw new Error('fitNormalization: needs at least one row');
  const mean = new Array<number>(cols).fill(0);
  const sq = new Array<number>(cols).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < cols; j++) mean[j] += X[i * cols + j];
  for (let j = 0; j < cols; j++) mean[j] /= n;
  for (let i = 0; i < n; i++) for (let j = 0; j < cols; j++) sq[j] += (X[i * cols + j] - mean[j]) ** 2;
  const std = sq.map((s) => {
    const sd = Math.sqrt(s / n);
    return sd > 0 ? sd : 1;
  });
  return { mean, std };
}
