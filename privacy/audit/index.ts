/** Empirical privacy audit of DP-SGD (privacy/README.md, "Empirical audit"). */
export { binomialLogPmf, binomialPmf, binomialTailAtLeast } from './binomial.ts';
export { oneRunEpsilonLowerBound, oneRunPValue } from './one-run-bound.ts';
export { OneHotGradientSource } from './canary-source.ts';
export {
  runCanaryAudit,
  runPrivacyAudit,
  type AuditVariant,
  type CanaryAuditConfig,
  type CanaryAuditResult,
  type PrivacyAuditOptions,
  type PrivacyAuditReport,
} from './canary-audit.ts';
