/**
 * fedwear's federation contracts, shared by gateways (compress, seal) and the aggregator (open,
 * validate, aggregate). See federation/README.md.
 */
export { formatShapes, shapeSize, shapesEqual, tensorSizes, totalSize, type TensorShape } from './shapes.ts';

// Update compression (gateway side) and decoding (both sides)
export {
  INT8_LEVELS,
  UPDATE_ENCODINGS,
  compressUpdate,
  compressWithErrorFeedback,
  decompressUpdate,
  int8Scale,
  quantizeInt8Stochastic,
  topKIndices,
  type CompressOptions,
  type CompressedUpdate,
  type ErrorFeedbackResult,
  type Float32Update,
  type Int8DenseUpdate,
  type Int8TopKUpdate,
  type TopKOptions,
  type UniformSource,
  type UpdateEncoding,
} from './compression.ts';

// The signed envelope
export {
  DEFAULT_ENVELOPE_LIMITS,
  ENCODING_CODES,
  ENVELOPE_ERROR_CODES,
  ENVELOPE_MAGIC,
  ENVELOPE_VERSION,
  EnvelopeError,
  MAX_RANK,
  MAX_STRING_BYTES,
  decodeEnvelope,
  encodeEnvelope,
  openEnvelope,
  verifyEnvelopeSignature,
  type DecodedEnvelope,
  type EnvelopeErrorCode,
  type EnvelopeLimits,
  type UpdateEnvelopeFields,
} from './envelope.ts';
export { SIGNATURE_BYTES, UPDATE_SIGNING_CONTEXT, toEd25519PrivateKey, toEd25519PublicKey, type SigningKey } from './signing.ts';

// Validation (aggregator side)
export { REJECT_REASONS, validateUpdate, type RejectReason, type ValidatedUpdate, type ValidationContext, type ValidationResult } from './validate.ts';
export { SeenUpdates, type SeenUpdatesSnapshot } from './seen-updates.ts';

// Aggregation
export * from './strategies/index.ts';

// MQTT payloads besides the update envelope
export {
  AuditVerdictSchema,
  BudgetSummarySchema,
  MODEL_MESSAGE_VERSION,
  MessageError,
  RoundAnnouncementSchema,
  RoundMetricsSchema,
  RoundTrainingSchema,
  decodeModelMessage,
  encodeModelMessage,
  parseAuditVerdict,
  parseBudgetSummary,
  parseRoundAnnouncement,
  parseRoundMetrics,
  sha256HexOf,
  type AuditVerdict,
  type BudgetSummary,
  type ModelMessage,
  type RoundAnnouncement,
  type RoundMetrics,
  type RoundTraining,
} from './messages.ts';
