/**
 * A small float64 reference MLP with per-sample gradients, for conformance vectors only
 * (shared/vectors/dp-step.json: Linear(6,16), Tanh, Linear(16,16), Tanh, Linear(16,1)). It is
 * deliberately naive: one forward and backward per sample. models/ has the real model; this can be
 * replaced by it once both exist, and stays useful as an independent check of it.
 *
 * Layout (torch's): for each Linear in order, weight [out][in] row-major then bias [out].
 */

export interface ReferenceMlp {
  /** Widths from input to output, e.g. [6, 16, 16, 1]. Hidden layers use tanh; the output is linear. */
  layerSizes: readonly number[];
  params: Float64Array;
}

/** Parameter tensor sizes in layout order: [w0, b0, w1, b1, ...]. */
export function mlpTensorSizes(layerSizes: readonly number[]): number[] {
  const sizes: number[] = [];
  for (let l = 0; l + 1 < layerSizes.length; l++) sizes.push(layerSizes[l + 1] * layerSizes[l], layerSizes[l + 1]);
  return sizes;
}

export function mlpParamCount(layerSizes: readonly number[]): number {
  return mlpTensorSizes(layerSizes).reduce((a, b) => a + b, 0);
}

/**
 * Per-sample gradients of the per-sample loss (f(x_i) - y_i)^2 (what Opacus's grad_sample holds for
 * MSELoss with one output, under either loss reduction). Returns row-major [B][P].
 */
export function perSampleGradients(model: ReferenceMlp, x: readonly (readonly number[])[], y: readonly number[]): { grads: Float64Array; outputs: Float64Array } {
  const sizes = model.layerSizes;
  const nLayers = sizes.length - 1;
  if (nLayers < 1) throw new RangeError('layerSizes needs at least an input and an output width');
  if (sizes[nLayers] !== 1) throw new RangeError(`the reference MLP supports one output (layerSizes ends with ${sizes[nLayers]})`);
  const P = mlpParamCount(sizes);
  if (model.params.length !== P) throw new RangeError(`params has length ${model.params.length}, the architecture needs ${P}`);
  if (x.length !== y.length) throw new RangeError(`x has ${x.length} rows, y has ${y.length}`);
  const offsets: { w: number; b: number }[] = [];
  let o = 0;
  for (let l = 0; l < nLayers; l++) {
    offsets.push({ w: o, b: o + sizes[l + 1] * sizes[l] });
    o += sizes[l + 1] * sizes[l] + sizes[l + 1];
  }
  const W = model.params;
  const grads = new Float64Array(x.length * P);
  const outputs = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    if (x[i].length !== sizes[0]) throw new RangeError(`x[${i}] has ${x[i].length} features, expected ${sizes[0]}`);
    // Forward, keeping every layer's input.
    const acts: Float64Array[] = [Float64Array.from(x[i])];
    for (let l = 0; l < nLayers; l++) {
      const input = acts[l];
      const out = new Float64Array(sizes[l + 1]);
      for (let r = 0; r < sizes[l + 1]; r++) {
        let s = W[offsets[l].b + r];
        for (let c = 0; c < sizes[l]; c++) s += W[offsets[l].w + r * sizes[l] + c] * input[c];
        out[r] = l + 1 < nLayers ? Math.tanh(s) : s;
      }
      acts.push(out);
    }
    const f = acts[nLayers][0];
    outputs[i] = f;
    // Backward: delta = dLoss/d(pre-activation) of the current layer.
    let delta = Float64Array.of(2 * (f - y[i]));
    const g = grads.subarray(i * P, (i + 1) * P);
    for (let l = nLayers - 1; l >= 0; l--) {
      const input = acts[l];
      for (let r = 0; r < sizes[l + 1]; r++) {
        g[offsets[l].b + r] = delta[r];
        for (let c = 0; c < sizes[l]; c++) g[offsets[l].w + r * sizes[l] + c] = delta[r] * input[c];
      }
      if (l > 0) {
        const prev = new Float64Array(sizes[l]);
        for (let c = 0; c < sizes[l]; c++) {
          let s = 0;
          for (let r = 0; r < sizes[l + 1]; r++) s += W[offsets[l].w + r * sizes[l] + c] * delta[r];
          prev[c] = s * (1 - input[c] * input[c]); // tanh' = 1 - tanh^2
        }
        delta = prev;
      }
    }
  }
  return { grads, outputs };
}
