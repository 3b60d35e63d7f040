/**
 * The split between the federated body and the personal head (models/layout.ts: the body is one
 * contiguous prefix, the head the last linear layer): assembling the personal model, the body
 * update, and FedProx's proximal term on the body only.
 */
import { Mlp, mlpLayout, type MlpArchitecture, type MlpLayout } from '../../models/index.ts';
import { proximalTerm, type Params } from '../../privacy/index.ts';

export interface GlobalModel {
  arch: MlpArchitecture;
  /** All float parameters (body then head), models/layout.ts order. */
  params: Float32Array;
  /** Recorded in the ledger entry as what was trained. */
  version: string;
}

/** The global body with the gateway's own head (the global head the first time). */
export function assemblePersonalModel(global: GlobalModel, personalHead?: Float32Array): Mlp {
  const layout = mlpLayout(global.arch);
  if (layout.body.length === 0) throw new RangeError(`global model ${global.arch.layerSizes.join('-')} has no hidden layer: there is no body to federate`);
  if (global.params.length !== layout.paramCount) {
    throw new RangeError(`global model params have ${global.params.length} values, architecture ${global.arch.layerSizes.join('-')} has ${layout.paramCount}`);
  }
  checkFinite(global.params, 'global model params');
  const model = new Mlp(global.arch, { dtype: 'float32', params: global.params });
  if (personalHead !== undefined) {
    if (personalHead.length !== layout.head.length) {
      throw new RangeError(`personal head has ${personalHead.length} values, the head of ${global.arch.layerSizes.join('-')} has ${layout.head.length} (re-initialise it from the global head after an architecture change)`);
    }
    checkFinite(personalHead, 'personal head');
    model.params.set(personalHead, layout.head.offset);
  }
  return model;
}

export function bodyOf(layout: MlpLayout, params: Float32Array | Float64Array): Float32Array {
  return Float32Array.from(params.subarray(layout.body.offset, layout.body.offset + layout.body.length));
}

export function headOf(layout: MlpLayout, params: Float32Array | Float64Array): Float32Array {
  return Float32Array.from(params.subarray(layout.head.offset, layout.head.offset + layout.head.length));
}

/** new body − global body, float32, in body order. */
export function bodyUpdate(layout: MlpLayout, newParams: Float32Array | Float64Array, globalParams: Float32Array): Float32Array {
  const { offset, length } = layout.body;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = newParams[offset + i] - globalParams[offset + i];
  return out;
}

/** The body's tensor shapes in update order (federation's TensorShape[]), and their torch names. */
export function bodyTensors(layout: MlpLayout): { shapes: number[][]; names: string[] } {
  const body = layout.tensors.filter((t) => t.part === 'body');
  return { shapes: body.map((t) => [...t.shape]), names: body.map((t) => t.name) };
}

/**
 * FedProx (Li et al. 2020, arXiv 1812.06127): the gradient of mu/2 ||w_body − w_body_global||²,
 * i.e. mu (w − w0) on the body coordinates and nothing on the head (the head has no global anchor:
 * it is personal). It depends on no example, so adding it after the noise is post-processing,
 * as Opacus treats weight decay (applied by the wrapped optimizer after DPOptimizer.add_noise).
 */
export function bodyProximalTerm(layout: MlpLayout, mu: number, globalParams: Float32Array): (gradient: Float64Array, params: Params) => void {
  const { offset, length } = layout.body;
  const term = proximalTerm(mu, globalParams.subarray(offset, offset + length));
  return (gradient, params) => term(gradient.subarray(offset, offset + length), params.subarray(offset, offset + length));
}

function checkFinite(a: ArrayLike<number>, what: string): void {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) throw new RangeError(`${what}[${i}] is not finite`);
}
