/**
 * models/: the calorie model's math (MLP forward/backward over typed arrays), per-sample gradients
 * for DP-SGD, int8 quantization, ONNX export and serving, and the model manifest.
 */
export {
  type Activation,
  type MlpArchitecture,
  type MlpLayout,
  type LinearLayout,
  type TensorLayout,
  type ModelPart,
  type ParamRange,
  type ParamScope,
  ACTIVATIONS,
  mlpLayout,
  validateArchitecture,
  scopeRange,
  architectureLabel,
} from './layout.ts';
export {
  type Floats,
  type DType,
  type MlpOptions,
  type StateDict,
  Mlp,
  MlpWorkspace,
  allocFloats,
  forwardBatch,
  backwardBatch,
  gatherRows,
  initializeParams,
  stateDictToFlat,
  flatToStateDict,
} from './mlp.ts';
export { type LossSpec, MSE, huber, lossGradient, meanLoss, meanAbsoluteError } from './losses.ts';
export { ghostNorms, addWeightedGradientSum, materializePerSampleGradients } from './per-sample.ts';
export { type GradientSourceOptions, MlpGradientSource } from './gradient-source.ts';
export {
  type QuantizedLinear,
  type QuantizedMlp,
  type QuantizationCost,
  INT8_QMAX,
  MIN_SCALE,
  roundHalfEven,
  quantizeRows,
  dequantizeRows,
  quantizeMlp,
  quantizeParams,
  dequantizeMlp,
  FakeQuantizer,
  fakeQuantizeParams,
  quantizationCost,
} from './quantize.ts';
export { type FeatureNormalization, validateNormalization, normalizeRows, fitNormalization } from './normalization.ts';
export {
  type OnnxExportOptions,
  type OnnxWeightForm,
  ONNX_INPUT_NAME,
  ONNX_OUTPUT_NAME,
  ONNX_OPSET,
  ONNX_IR_VERSION,
  exportFloatOnnx,
  exportInt8Onnx,
} from './onnx-export.ts';
export { type OnnxSessionOptions, OnnxModelSession } from './onnx-runtime.ts';
export {
  type ModelManifest,
  type ManifestInput,
  MANIFEST_FORMAT_VERSION,
  ManifestSchema,
  sha256Hex,
  parseManifest,
  buildManifest,
  verifyModelBytes,
  manifestArchitecture,
} from './manifest.ts';
export { type PackageOptions, type ModelPackage, packageModel } from './model-package.ts';
export { seededRng, gaussian } from './random.ts';
