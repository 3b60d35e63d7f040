export { runFederatedDemo, quietProgress, STRATEGIES, COMPRESSIONS, type FederatedDemoOptions, type DemoProgress, type StrategyName, type Compression } from './federated-demo.ts';
export { terminalProgress } from './progress.ts';
export { formatTables, MODEL_KEYS, type DemoReport, type UserReport, type RoundReport, type ModelKey } from './report.ts';
export { renderReportHtml } from './report-html.ts';
export { planTraining, DEFAULT_LOCAL_TRAINING, type TrainingPlan, type LocalTraining } from './training-plan.ts';
export type { Transport } from './device-link.ts';
export { startDashboard, type Dashboard, type DashboardOptions } from './dashboard.ts';
export { runWithComparison } from './compare.ts';
