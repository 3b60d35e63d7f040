/**
 * report.html from report.json: one self-contained page (inline CSS and SVG, no script, no external
 * asset), so it reads from a file:// URL or an e-mail attachment without a server.
 */
import type { DemoReport } from './report.ts';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const fmt = (x: number, d = 3): string => (Math.abs(x) >= 1e4 ? x.toExponential(2) : x.toFixed(d));

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

interface Series {
  name: string;
  points: Array<[number, number]>;
}

const W = 560;
const H = 260;
const M = { l: 56, r: 150, t: 28, b: 36 };

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((k) => k * p).find((c) => c >= v)!;
}

function axes(title: string, xLabel: string, yMax: number, xs: number[]): string {
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const y = M.t + ph * (1 - f);
    return `<line x1="${M.l}" x2="${M.l + pw}" y1="${y}" y2="${y}" stroke="#eee"/><text x="${M.l - 6}" y="${y + 4}" text-anchor="end">${fmt(yMax * f, yMax < 10 ? 2 : 0)}</text>`;
  });
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  const xt = [...new Set(xs)].map((x) => `<text x="${M.l + (xMax === xMin ? pw / 2 : ((x - xMin) / (xMax - xMin)) * pw)}" y="${M.t + ph + 16}" text-anchor="middle">${x}</text>`);
  return (
    `<text x="${M.l}" y="16" class="t">${esc(title)}</text>${ticks.join('')}${xt.join('')}` +
    `<line x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${M.t + ph}" stroke="#888"/><line x1="${M.l}" x2="${M.l + pw}" y1="${M.t + ph}" y2="${M.t + ph}" stroke="#888"/>` +
    `<text x="${M.l + pw / 2}" y="${H - 4}" text-anchor="middle">${esc(xLabel)}</text>`
  );
}

function lineChart(title: string, xLabel: string, series: Series[], yMaxOverride?: number): string {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  if (xs.length === 0) return `<p>${esc(title)}: no data.</p>`;
  const yMax = yMaxOverride ?? niceMax(Math.max(...series.flatMap((s) => s.points.map((p) => p[1]))));
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const X = (x: number): number => M.l + (xMax === xMin ? pw / 2 : ((x - xMin) / (xMax - xMin)) * pw);
  const Y = (y: number): number => M.t + ph * (1 - Math.min(y, yMax) / yMax);
  const lines = series.map((s, i) => {
    const c = PALETTE[i % PALETTE.length];
    const d = s.points.map(([x, y], k) => `${k ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join('');
    const dots = s.points.map(([x, y]) => `<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2.5" fill="${c}"><title>${esc(s.name)}: ${fmt(y)}</title></circle>`).join('');
    const legend = series.length <= 12 ? `<text x="${M.l + pw + 10}" y="${M.t + 12 + i * 15}" fill="${c}">${esc(s.name)}</text>` : '';
    return `<path d="${d}" fill="none" stroke="${c}" stroke-width="1.5"/>${dots}${legend}`;
  });
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${axes(title, xLabel, yMax, xs)}${lines.join('')}</svg>`;
}

function barChart(title: string, xLabel: string, bars: Array<[number, number]>): string {
  if (bars.length === 0) return `<p>${esc(title)}: no data.</p>`;
  const yMax = niceMax(Math.max(1, ...bars.map((b) => b[1])));
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const bw = pw / bars.length;
  const rects = bars.map(([x, y], i) => {
    const h = (ph * y) / yMax;
    return `<rect x="${(M.l + i * bw + bw * 0.15).toFixed(1)}" y="${(M.t + ph - h).toFixed(1)}" width="${(bw * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="#1f77b4"><title>round ${x}: ${y}</title></rect>` +
      `<text x="${(M.l + i * bw + bw / 2).toFixed(1)}" y="${M.t + ph + 16}" text-anchor="middle">${x}</text>`;
  });
  const ticks = [0, 0.5, 1].map((f) => `<text x="${M.l - 6}" y="${M.t + ph * (1 - f) + 4}" text-anchor="end">${fmt(yMax * f, 0)}</text>`);
  return (
    `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img"><text x="${M.l}" y="16" class="t">${esc(title)}</text>${ticks.join('')}${rects.join('')}` +
    `<line x1="${M.l}" x2="${M.l + pw}" y1="${M.t + ph}" y2="${M.t + ph}" stroke="#888"/><text x="${M.l + pw / 2}" y="${H - 4}" text-anchor="middle">${esc(xLabel)}</text></svg>`
  );
}

export function renderReportHtml(r: DemoReport): string {
  const clusterNames = r.clusters.map((c) => c.name);
  const errorSeries: Series[] = [...clusterNames, 'all'].map((name) => ({
    name,
    points: [[0, r.baseMae[name] ?? NaN] as [number, number], ...r.rounds.map((x) => [x.round, x.federatedMae[name] ?? NaN] as [number, number])].filter((p) => Number.isFinite(p[1])),
  }));
  const epsSeries: Series[] = r.users.map((u) => ({ name: u.id, points: [[0, 0] as [number, number], ...u.epsilonByRound.map((e) => [e.round, e.epsilon] as [number, number])] }));
  const epsMax = r.options.nonPrivate ? undefined : niceMax(r.training.epsilonMax);
  const mrow = (name: string, n: number, m: DemoReport['overall']['mae']): string =>
    `<tr><td>${esc(name)}</td><td>${n}</td><td>${fmt(m.keytel)}</td><td>${fmt(m.base)}</td><td>${fmt(m.federated)}</td><td><b>${fmt(m.personalized)}</b></td></tr>`;
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const privacy = r.options.nonPrivate
    ? `<p class="warn">NON-PRIVATE comparison run: sigma ${r.training.noiseMultiplier} (no noise in practice), clip norm ${r.training.maxGradNorm} as in the private run. Its epsilon is astronomical and is shown only to make that plain.</p>`
    : `<p>Each user's budget: epsilon ≤ ${r.training.epsilonMax} at delta ${r.training.delta} (record-level: one 60-s window of one user), RDP accountant over every round.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fedwear demo report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
th{background:#f4f4f4}svg{font:11px sans-serif;margin:6px 12px 6px 0;border:1px solid #eee}svg .t{font-weight:bold;font-size:12px}
.warn{background:#fff3cd;padding:6px}.ok{color:#2a7}.bad{color:#c22}.grid{display:flex;flex-wrap:wrap}
</style></head><body>
<h1>fedwear demo</h1>
<p>${r.options.users} simulated users, ${r.options.rounds} rounds, strategy ${esc(r.options.strategy)}, updates ${esc(r.options.compression)}, devices over ${r.options.transport === 'pty' ? 'serial pseudo-terminals' : 'in-process streams'}, seed ${r.options.seed}; ${r.createdAt}, ${r.wallTimeS.toFixed(0)} s.
Local training per round: q ${r.training.sampleRate}, ${r.training.steps} steps, sigma ${fmt(r.training.noiseMultiplier)}, C ${r.training.maxGradNorm}, lr ${r.training.lr}, mu ${r.training.mu}, ${esc(r.training.optimizer)}.</p>
${privacy}
<h2>Error on held-out days (MAE, kcal/min, against the simulator's truth)</h2>
<table><tr><th>cluster</th><th>users</th><th>Keytel</th><th>base</th><th>federated</th><th>personalized</th></tr>
${r.clusters.map((c) => mrow(c.name, c.users, c.mae)).join('\n')}
${mrow('all users', r.overall.users, r.overall.mae)}</table>
${r.nonPrivate ? `<h3>The same run without privacy (comparison, same seed)</h3><p>sigma 1e-6 (no noise in practice), same clipping: epsilon ${fmt(r.nonPrivate.epsilon)}.</p>
<table><tr><th>cluster</th><th>users</th><th>Keytel</th><th>base</th><th>federated</th><th>personalized</th></tr>
${r.nonPrivate.clusters.map((c) => mrow(c.name, c.users, c.mae)).join('\n')}
${mrow('all users', r.nonPrivate.overall.users, r.nonPrivate.overall.mae)}</table>` : ''}
<p>Personalized vs base: ${pct(r.targets.personalizedVsBase)} lower (target 25%); vs Keytel: ${pct(r.targets.personalizedVsKeytel)} lower (target 40%):
<b class="${r.targets.met ? 'ok' : 'bad'}">targets ${r.targets.met ? 'met' : 'not met'}</b>. Worst cluster (personalized/base): ${esc(r.targets.worstCluster)}.</p>
<p><i>Keytel</i>: the Keytel et al. (2005) equation from heart rate and profile. <i>base</i>: the pretrained model every gateway starts from.
<i>federated</i>: the global model after the last round (aggregated body, base head). <i>personalized</i>: each gateway's own int8 model (its last round's body with its personal head).</p>
<div class="grid">
${lineChart('Global model MAE per round, per cluster (round 0 = base)', 'round', errorSeries)}
${lineChart('epsilon spent per user', 'round', epsSeries, epsMax)}
${barChart('Update bytes accepted per round', 'round', r.rounds.map((x) => [x.round, x.bytes]))}
${barChart('Rejected updates per round', 'round', r.rounds.map((x) => [x.round, x.rejected]))}
</div>
<h2>Rounds</h2>
<table><tr><th>round</th><th>participants</th><th>rejected</th><th>bytes</th><th>closed by</th><th>seconds</th><th>global MAE</th></tr>
${r.rounds.map((x) => `<tr><td>${x.round}</td><td>${x.participants}</td><td>${x.rejected}${x.rejected ? ` (${esc(Object.entries(x.rejectedByReason).map(([k, v]) => `${k} ${v}`).join(', '))})` : ''}</td><td>${x.bytes}</td><td>${esc(x.closedBy)}</td><td>${(x.durationMs / 1000).toFixed(1)}</td><td>${fmt(x.federatedMae.all ?? NaN)}</td></tr>`).join('\n')}</table>
<h2>Users: privacy and audit</h2>
<table><tr><th>user</th><th>cluster</th><th>epsilon</th><th>budget</th><th>delta</th><th>rounds</th><th>audit</th><th>labelled windows</th><th>Keytel</th><th>base</th><th>federated</th><th>personalized</th></tr>
${r.users
  .map(
    (u) =>
      `<tr><td>${esc(u.id)}</td><td>${esc(u.cluster)}</td><td>${fmt(u.epsilon)}</td><td>${fmt(u.budget)}</td><td>${u.delta}</td><td>${u.epsilonByRound.length}</td><td class="${u.audit.startsWith('ok') ? 'ok' : 'bad'}">${esc(u.audit)}</td><td>${u.labelledWindows}</td>` +
      `<td>${fmt(u.mae.keytel)}</td><td>${fmt(u.mae.base)}</td><td>${fmt(u.mae.federated)}</td><td>${fmt(u.mae.personalized)}</td></tr>`,
  )
  .join('\n')}</table>
</body></html>
`;
}
