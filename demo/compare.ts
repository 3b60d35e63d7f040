/**
 * The private run and, with the same seed and settings, the non-private one, so the report shows
 * the cost of privacy beside the private numbers (issue 7 item 4). The non-private run's own report
 * goes to <report-dir>/non-private/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runFederatedDemo, type DemoProgress, type FederatedDemoOptions } from './federated-demo.ts';
import type { DemoReport } from './report.ts';
import { renderReportHtml } from './report-html.ts';

export async function runWithComparison(opts: FederatedDemoOptions, progress: DemoProgress): Promise<{ report: DemoReport; jsonFile: string; htmlFile: string }> {
  const priv = await runFederatedDemo({ ...opts, nonPrivate: false }, progress);
  progress.log('the comparison run without privacy (same seed and settings):');
  const np = await runFederatedDemo({ ...opts, nonPrivate: true, reportDir: path.join(opts.reportDir, 'non-private'), dashboardPort: undefined }, progress);
  const report: DemoReport = {
    ...priv.report,
    nonPrivate: { clusters: np.report.clusters, overall: np.report.overall, epsilon: Math.max(...np.report.users.map((u) => u.epsilon)), wallTimeS: np.report.wallTimeS },
  };
  fs.writeFileSync(priv.jsonFile, JSON.stringify(report, null, 2) + '\n');
  fs.writeFileSync(priv.htmlFile, renderReportHtml(report));
  return { report, jsonFile: priv.jsonFile, htmlFile: priv.htmlFile };
}
