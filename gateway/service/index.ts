/** The gateway service (`fedwear gateway run`). See gateway/README.md, "Service". */
export {
  DEFAULT_BASE_MODEL_DIR,
  GatewayConfigError,
  GatewayConfigSchema,
  formatConfigIssues,
  loadGatewayConfig,
  parseGatewayConfig,
  type GatewayConfig,
  type GatewayConfigInput,
} from './config.ts';
export { GatewayService, LEDGER_FILE, type GatewayEvents, type GatewayHealth, type GatewayServiceOptions } from './service.ts';
export { requeueRefused, runGatewayService, type RunGatewayIo } from './run.ts';
export { LOCK_FILE, lockDataDir } from './data-lock.ts';
export { assertOwnerOnly } from './key-permissions.ts';
export { Outbox, type AckOutcome, type RefusedEntry, type OutboxEntry, type OutboxItem, type OutboxKind, type OutboxMeta, type OutboxOptions, type OutboxRecovery } from './outbox.ts';
export { MqttLink, type MqttLinkEvents, type MqttLinkOptions, type PublishOutcome } from './mqtt-link.ts';
export { sealUpdate, payloadBytes, type RoundUpdateRules, type SealInput, type SealResult, type SealedUpdate, type UpdatePreferences } from './seal-update.ts';
export { budgetSummary, decideStaleUpdate, ledgerMessage, roundTrainingParameters, type BudgetTerms, type StaleDecision, type UpdateRoundRules } from './round-rules.ts';
export { LocalData, type LocalDataOptions, type StoredWindow } from './local-data.ts';
export { EstimateStore, MAX_ESTIMATES_PER_PAGE, type Estimate, type EstimatePage, type EstimateQuery } from './estimates.ts';
export { ModelFiles, ModelRejectedError, loadBaseModel, personalOnnx, verifyModelMessage, type GlobalModelState, type PersonalState } from './model-state.ts';
export { createGatewayMetrics, type GatewayMetrics } from './metrics.ts';
export type { RoundEvent, RoundPhase } from './rounds.ts';
