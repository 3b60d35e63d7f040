/**
 * Architecture and flat parameter layout of the MLP.
 *
 * The layout is PyTorch's: for each nn.Linear in order, weight [out, in] row-major then bias [out],
 * all concatenated (the order of `model.parameters()` for nn.Sequential(Linear, act, Linear, ...)).
 * That makes a torch state_dict, Opacus's flattened per-sample gradients (shared/vectors/dp-step.json)
 * and our gradient vectors the same thing, and it makes the shared body (every layer but the last)
 * one contiguous prefix and the personal head (the last layer) one contiguous suffix.
 */

export type Activation = 'tanh' | 'relu';
export const ACTIVATIONS: readonly Activation[] = ['tanh', 'relu'];

export interface MlpArchitecture {
  /** Widths from input to output, e.g. [6, 16, 16, 1]: three linear layers. */
  readonly layerSizes: readonly number[];
  /** Applied after every linear layer except the last (the output is linear: kcal/min is unbounded). */
  readonly activation: Activation;
}

/** Which part of the model a tensor belongs to: the federated body or the personal head. */
export type ModelPart = 'body' | 'head';

export interface LinearLayout {
  readonly index: number;
  readonly inSize: number;
  readonly outSize: number;
  readonly weightOffset: number;
  readonly biasOffset: number;
  readonly part: ModelPart;
}

export interface TensorLayout {
  /** torch nn.Sequential state_dict name: Linear l sits at module index 2l (activations between). */
  readonly name: string;
  readonly layer: number;
  readonly kind: 'weight' | 'bias';
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
  readonly part: ModelPart;
}

export interface ParamRange {
  readonly offset: number;
  readonly length: number;
}

export interface MlpLayout {
  readonly arch: MlpArchitecture;
  readonly paramCount: number;
  readonly layers: readonly LinearLayout[];
  /** Two per layer (weight, bias), in gradient-vector order. */
  readonly tensors: readonly TensorLayout[];
  /** All hidden layers: empty for a single linear layer. */
  readonly body: ParamRange;
  /** The last linear layer. */
  readonly head: ParamRange;
  /** Widest layer (for scratch rows). */
  readonly maxWidth: number;
}

/** Which parameters a gradient covers: body and head are contiguous, so each scope is one range. */
export type ParamScope = 'all' | 'body' | 'head';

export function validateArchitecture(arch: MlpArchitecture): void {
  const sizes = arch.layerSizes;
  if (!Array.isArray(sizes) || sizes.length < 2) {
    throw new Error(`MLP architecture: layerSizes needs at least 2 entries (input, output), got ${JSON.stringify(sizes)}`);
  }
  sizes.forEach((s, i) => {
    if (!Number.isInteger(s) || s < 1) throw new Error(`MLP architecture: layerSizes[${i}] must be a positive integer, got ${s}`);
  });
  if (!ACTIVATIONS.includes(arch.activation)) {
    throw new Error(`MLP architecture: activation must be one of ${ACTIVATIONS.join(', ')}, got ${String(arch.activation)}`);
  }
}

export function mlpLayout(arch: MlpArchitecture): MlpLayout {
  validateArchitecture(arch);
  const sizes = arch.layerSizes;
  const nLayers = sizes.length - 1;
  const layers: LinearLayout[] = [];
  const tensors: TensorLayout[] = [];
  let offset = 0;
  for (let l = 0; l < nLayers; l++) {
    const inSize = sizes[l];
    const outSize = sizes[l + 1];
    const part: ModelPart = l === nLayers - 1 ? 'head' : 'body';
    const weightOffset = offset;
    const biasOffset = offset + inSize * outSize;
    layers.push({ index: l, inSize, outSize, weightOffset, biasOffset, part });
    tensors.push({ name: `${2 * l}.weight`, layer: l, kind: 'weight', shape: [outSize, inSize], offset: weightOffset, size: inSize * outSize, part });
    tensors.push({ name: `${2 * l}.bias`, layer: l, kind: 'bias', shape: [outSize], offset: biasOffset, size: outSize, part });
    offset = biasOffset + outSize;
  }
  const headOffset = layers[nLayers - 1].weightOffset;
  return {
    arch: { layerSizes: [...sizes], activation: arch.activation },
    paramCount: offset,
    layers,
    tensors,
    body: { offset: 0, length: headOffset },
    head: { offset: headOffset, length: offset - headOffset },
    maxWidth: Math.max(...sizes),
  };
}

export function scopeRange(layout: MlpLayout, scope: ParamScope): ParamRange {
  switch (scope) {
    case 'all':
      return { offset: 0, length: layout.paramCount };
    case 'body':
      return layout.body;
    case 'head':
      return layout.head;
    default:
      throw new Error(`unknown parameter scope ${String(scope)} (expected all, body or head)`);
  }
}

/** Index of the first layer whose parameters are in the scope. */
export function scopeFirstLayer(layout: MlpLayout, scope: ParamScope): number {
  return scope === 'head' ? layout.layers.length - 1 : 0;
}

/** Index one past the last layer whose parameters are in the scope. */
export function scopeEndLayer(layout: MlpLayout, scope: ParamScope): number {
  return scope === 'body' ? layout.layers.length - 1 : layout.layers.length;
}

export function architectureLabel(arch: MlpArchitecture): string {
  return `${arch.layerSizes.join('-')} ${arch.activation}`;
}
