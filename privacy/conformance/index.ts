export { mlpParamCount, mlpTensorSizes, perSampleGradients, type ReferenceMlp } from './reference-mlp.ts';
export {
  dpStepVectorSchema,
  parseDpStepVector,
  runDpStepVector,
  type ConformanceCheck,
  type ConformanceReport,
  type ConformanceVariantResult,
  type DpStepVector,
} from './dp-step-vector.ts';
