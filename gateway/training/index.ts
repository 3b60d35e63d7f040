/** One local, private fine-tuning round on a gateway. See gateway/README.md, "Training". */
export { checkRoundParameters, type OptimizerName, type RoundTrainingParameters } from './round-params.ts';
export { DEFAULT_MIN_EXAMPLES, planRound, type PlanRequest, type RoundPlan, type RunPlan, type SkipCode, type SkipPlan } from './plan.ts';
export { assemblePersonalModel, bodyProximalTerm, bodyTensors, bodyUpdate, bodyOf, headOf, type GlobalModel } from './personal-model.ts';
export { runDpSgd, updateRuleFor, type DpTrainingOutcome, type DpTrainingRun } from './dp-train.ts';
export {
  fineTuneRound,
  type FineTuneInput,
  type FineTuneOptions,
  type LocalOnlyDiagnostics,
  type RoundResult,
  type RoundStats,
  type SkippedRound,
  type SpendLedger,
  type TrainedRound,
} from './fine-tune.ts';
