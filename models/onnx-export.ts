/**
 * ONNX export of the MLP: float32, and int8 weight-only QDQ (DequantizeLinear on int8 initializers
 * with per-output-channel scales, then the float op), opset 13 — the form shared/notes/edge-stack.md
 * §3 verified onnxruntime-node 1.30 runs and fuses (DQ + FusedGemm / MatMulNBits).
 *
 * Two weight forms, both verified against onnxruntime in tests/models/onnx.test.ts:
 *  - 'gemm' (default): Gemm(x, W, b, transB=1) with W stored as torch's [out, in]; per-channel DQ
 *    axis = 0 (the output channel is the row).
 *  - 'matmul': MatMul(x, Wᵀ) + Add(b) with Wᵀ stored [in, out]; per-channel DQ axis = 1.
 * Per-channel DequantizeLinear needs opset >= 13. Output names are fixed by the interface:
 * input `features` [batch, nFeatures] float32, output `kcal_per_min` [batch, 1].
 * The bytes are a pure function of the model and options (no timestamps), so the manifest's hash
 * identifies the model.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import type { Mlp } from './mlp.ts';
import type { Activation, MlpArchitecture } from './layout.ts';
import type { QuantizedMlp } from './quantize.ts';
import { type FeatureNormalization, validateNormalization } from './normalization.ts';

const { onnx } = onnxProto;

export const ONNX_INPUT_NAME = 'features';
export const ONNX_OUTPUT_NAME = 'kcal_per_min';
export const ONNX_OPSET = 13;
/** IR 8 is what onnx-proto's enums know and what opset 13 needs at least (IR 7). */
export const ONNX_IR_VERSION = 8;

export type OnnxWeightForm = 'gemm' | 'matmul';

export interface OnnxExportOptions {
  form?: OnnxWeightForm;
  /** If given, (x - mean) / std is the first op of the graph, so the model takes raw features. */
  normalization?: FeatureNormalization;
  /** Stored as the graph's doc string (part of the hashed bytes). */
  docString?: string;
}

const FLOAT = 1;
const INT8 = 3;
const ATTR_INT = 2;

function floatTensor(name: string, dims: number[], values: ArrayLike<number>): OnnxTypes.ITensorProto {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  // ONNX raw_data is little-endian whatever the host.
  for (let j = 0; j < values.length; j++) view.setFloat32(j * 4, values[j], true);
  return { name, dataType: FLOAT, dims, rawData: bytes };
}

function int8Tensor(name: string, dims: number[], values: Int8Array): OnnxTypes.ITensorProto {
  return { name, dataType: INT8, dims, rawData: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)) };
}

function valueInfo(name: string, cols: number): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: cols }] } } },
  };
}

function node(opType: string, name: string, input: string[], output: string[], attrs: Record<string, number> = {}): OnnxTypes.INodeProto {
  return {
    opType,
    name,
    input,
    output,
    attribute: Object.entries(attrs).map(([n, v]) => ({ name: n, type: ATTR_INT, i: v })),
  };
}

/** One linear layer's weights as the exporter needs them: float, or int8 with scales. */
type LayerWeights =
  | { kind: 'float'; inSize: number; outSize: number; W: ArrayLike<number>; b: ArrayLike<number> }
  | { kind: 'int8'; inSize: number; outSize: number; q: Int8Array; scales: Float32Array; b: ArrayLike<number> };

function transposeInt8(q: Int8Array, rows: number, cols: number): Int8Array {
  const t = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = q[r * cols + c];
  return t;
}

function transposeFloat(w: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c];
  return t;
}

function buildGraph(arch: MlpArchitecture, layers: LayerWeights[], opts: OnnxExportOptions): Uint8Array {
  const form = opts.form ?? 'gemm';
  if (form !== 'gemm' && form !== 'matmul') throw new Error(`ONNX export: form must be gemm or matmul, got ${String(form)}`);
  const nIn = arch.layerSizes[0];
  const nOut = arch.layerSizes[arch.layerSizes.length - 1];
  const nodes: OnnxTypes.INodeProto[] = [];
  const inits: OnnxTypes.ITensorProto[] = [];
  let x = ONNX_INPUT_NAME;

  if (opts.normalization) {
    validateNormalization(opts.normalization, nIn);
    inits.push(floatTensor('norm/mean', [nIn], opts.normalization.mean), floatTensor('norm/std', [nIn], opts.normalization.std));
    nodes.push(node('Sub', 'norm/Sub', [x, 'norm/mean'], ['norm/centered']), node('Div', 'norm/Div', ['norm/centered', 'norm/std'], ['norm/out']));
    x = 'norm/out';
  }

  const act: Record<Activation, string> = { tanh: 'Tanh', relu: 'Relu' };
  layers.forEach((L, l) => {
    const last = l === layers.length - 1;
    const p = `layer${l}`;
    const wName = `${2 * l}.weight`;
    const bName = `${2 * l}.bias`;
    inits.push(floatTensor(bName, [L.outSize], L.b));
    const w = wName;
    if (L.kind === 'float') {
      if (form === 'gemm') inits.push(floatTensor(wName, [L.outSize, L.inSize], L.W));
      else inits.push(floatTensor(wName, [L.inSize, L.outSize], transposeFloat(L.W, L.outSize, L.inSize)));
    } else {
      const qName = `${wName}_quantized`;
      const sName = `${wName}_scale`;
      const zName = `${wName}_zero_point`;
      if (form === 'gemm') inits.push(int8Tensor(qName, [L.outSize, L.inSize], L.q));
      else inits.push(int8Tensor(qName, [L.inSize, L.outSize], transposeInt8(L.q, L.outSize, L.inSize)));
      inits.push(floatTensor(sName, [L.outSize], L.scales), int8Tensor(zName, [L.outSize], new Int8Array(L.outSize)));
      // axis = the output-channel dimension of the stored tensor.
      nodes.push(node('DequantizeLinear', `${p}/DequantizeLinear`, [qName, sName, zName], [wName], { axis: form === 'gemm' ? 0 : 1 }));
    }
    const z = last ? ONNX_OUTPUT_NAME : `${p}/z`;
    if (form === 'gemm') {
      nodes.push(node('Gemm', `${p}/Gemm`, [x, w, bName], [z], { transB: 1 }));
    } else {
      nodes.push(node('MatMul', `${p}/MatMul`, [x, w], [`${p}/xw`]), node('Add', `${p}/Add`, [`${p}/xw`, bName], [z]));
    }
    if (!last) {
      const a = `${p}/${act[arch.activation].toLowerCase()}`;
      nodes.push(node(act[arch.activation], `${p}/${act[arch.activation]}`, [z], [a]));
      x = a;
    }
  });

  const model: OnnxTypes.IModelProto = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'fedwear',
    producerVersion: '1',
    graph: {
      name: 'fedwear_kcal_mlp',
      docString: opts.docString ?? `MLP ${arch.layerSizes.join('-')} ${arch.activation}; ${layers[0].kind} weights`,
      node: nodes,
      initializer: inits,
      input: [valueInfo(ONNX_INPUT_NAME, nIn)],
      output: [valueInfo(ONNX_OUTPUT_NAME, nOut)],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** ONNX bytes of the float32 model. */
export function exportFloatOnnx(model: Mlp, opts: OnnxExportOptions = {}): Uint8Array {
  const layers: LayerWeights[] = model.layout.layers.map((L) => ({
    kind: 'float',
    inSize: L.inSize,
    outSize: L.outSize,
    W: model.params.subarray(L.weightOffset, L.weightOffset + L.inSize * L.outSize),
    b: model.params.subarray(L.biasOffset, L.biasOffset + L.outSize),
  }));
  return buildGraph(model.arch, layers, opts);
}

/** ONNX bytes of the int8 model (weight-only QDQ, per-output-channel scales, zero points 0). */
export function exportInt8Onnx(qm: QuantizedMlp, opts: OnnxExportOptions = {}): Uint8Array {
  const sizes = qm.arch.layerSizes;
  const layers: LayerWeights[] = qm.layers.map((L, l) => {
    if (L.inSize !== sizes[l] || L.outSize !== sizes[l + 1]) throw new Error(`ONNX export: quantized layer ${l} is ${L.outSize}×${L.inSize}, architecture says ${sizes[l + 1]}×${sizes[l]}`);
    return { kind: 'int8', inSize: L.inSize, outSize: L.outSize, q: L.weights, scales: L.scales, b: L.bias };
  });
  return buildGraph(qm.arch, layers, opts);
}
