/**
 * The live privacy dashboard: a page on a loopback node:http server that connects to the broker's
 * WebSocket listener with mqtt.js's browser bundle (served from node_modules, no CDN), logs in as
 * the auditor, and shows, as the retained and live messages arrive, each user's budget summary
 * (epsilon spent against the budget, with every value seen), the auditor's verdicts, the round
 * metrics and the current global model. It reads only what the broker's ACL lets an auditor read:
 * budgets, ledgers, verdicts, the model and metrics/rounds (aggregate figures, no user id); never
 * an update, a round announcement or a status record.
 *
 * Elements carry data attributes (data-user, data-epsilon, data-history, data-round, ...) so a
 * browser test reads what a person sees without parsing text.
 */
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface DashboardOptions {
  /** ws://host:port/path of the broker's WebSocket listener. */
  brokerWsUrl: string;
  username: string;
  password: string;
  host?: string;
  port?: number;
}

export interface Dashboard {
  url: string;
  close(): Promise<void>;
}

function mqttBundlePath(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('mqtt/package.json')), 'dist', 'mqtt.min.js');
}

const PAGE_SCRIPT = String.raw`
const cfg = JSON.parse(document.getElementById('cfg').textContent);
/** userId -> { budget, verdict, history: [{ entries, epsilon }] } */
const users = new Map();
/** roundId -> RoundMetrics (a reconnect re-delivers the retained one: keyed, not appended) */
const rounds = new Map();
const state = { model: '-', connected: false, messages: 0, bad: 0, topics: new Set() };
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const time = (iso) => { const d = new Date(iso); return isNaN(d) ? '-' : d.toISOString().slice(11, 19); };
/** Values shown in the history cell (data-history keeps them all). */
const HIST = 8;
const userOf = (id) => { let u = users.get(id); if (!u) { u = { history: [] }; users.set(id, u); } return u; };

function userRow(id, u) {
  const b = u.budget, v = u.verdict;
  const spent = b ? b.epsilonSpent : (v ? v.epsilonRecomputed : 0);
  const max = b ? b.epsilonMax : (v && v.epsilonMax) || 0;
  const frac = max > 0 ? spent / max : 0;
  const level = frac >= 1 ? 'over' : frac >= 0.9 ? 'near' : 'under';
  const verdict = !v ? 'pending' : v.ok ? 'ok' : 'faults';
  const verdictText = !v ? '-' : v.ok ? 'ok' : esc(v.faults.map((f) => f.kind).join(', '));
  const verdictTitle = v && !v.ok ? esc(v.faults.map((f) => f.kind + ': ' + f.detail).join('\n')) : '';
  return '<tr data-user="' + esc(id) + '" data-epsilon="' + spent + '" data-epsilon-max="' + max + '" data-entries="' + (b ? b.entries : '') +
    '" data-history="' + u.history.map((h) => h.epsilon).join(',') + '" data-verdict="' + verdict + '">' +
    '<td class="id">' + esc(id) + '</td>' +
    '<td class="num"><b data-field="epsilon">' + spent.toFixed(3) + '</b> / ' + (max ? max : '-') + '</td>' +
    '<td><div class="bar ' + level + '"><div style="width:' + (100 * Math.min(1, frac)).toFixed(1) + '%"></div></div></td>' +
    '<td class="num">' + (b ? b.entries : '-') + '</td>' +
    '<td class="hist">' + (u.history.length > HIST ? '… ' : '') + u.history.slice(-HIST).map((h) => h.epsilon.toFixed(3)).join(' → ') + '</td>' +
    '<td class="verdict ' + verdict + '" data-field="verdict" title="' + verdictTitle + '">' + verdictText + '</td>' +
    '<td class="num">' + (v ? time(v.checkedAt) : '-') + '</td></tr>';
}

function roundRow(m) {
  const rejected = Object.entries(m.rejected);
  const rejectedTotal = rejected.reduce((a, [, n]) => a + n, 0);
  return '<tr data-round="' + m.roundId + '" data-model-version="' + esc(m.modelVersion) + '" data-participants="' + m.accepted +
    '" data-rejected="' + rejectedTotal + '" data-bytes="' + m.bytes + '" data-closed-by="' + esc(m.closedBy) + '">' +
    '<td class="num">' + m.roundId + '</td>' +
    '<td class="ver">' + esc(m.modelVersion) + ' → ' + esc(m.newModelVersion) + '</td>' +
    '<td class="num">' + m.accepted + '</td>' +
    '<td data-field="rejected">' + (rejected.length === 0 ? 'none' : esc(rejected.map(([k, n]) => k + ': ' + n).join(', '))) + '</td>' +
    '<td class="num">' + (m.bytes / 1024).toFixed(1) + ' KiB</td>' +
    '<td class="num">' + m.updateNorm.mean.toFixed(3) + ' / ' + m.updateNorm.max.toFixed(3) + '</td>' +
    '<td class="num">' + (m.durationMs / 1000).toFixed(1) + ' s</td>' +
    '<td>' + esc(m.closedBy) + '</td></tr>';
}

function render() {
  const st = $('status');
  st.dataset.connected = String(state.connected);
  st.textContent = state.connected ? 'connected as ' + cfg.username + ' (read-only)' : 'disconnected';
  $('model').textContent = state.model;
  $('messages').textContent = String(state.messages) + (state.bad ? ' (' + state.bad + ' unreadable)' : '');
  const list = [...users.entries()].sort(([a], [b]) => a.localeCompare(b));
  $('users').innerHTML = list.map(([id, u]) => userRow(id, u)).join('');
  $('rounds').innerHTML = [...rounds.values()].sort((a, b) => a.roundId - b.roundId).map(roundRow).join('');
  const verdicts = list.filter(([, u]) => u.verdict);
  $('summary').textContent = list.length + ' users, ' + verdicts.filter(([, u]) => u.verdict.ok).length + ' of ' + verdicts.length +
    ' audit verdicts ok, ' + rounds.size + ' rounds seen';
}

const client = mqtt.connect(cfg.url, { clientId: cfg.username + ':dashboard-' + Math.random().toString(16).slice(2, 10), username: cfg.username, password: cfg.password, reconnectPeriod: 2000, clean: true });
// For inspection from the browser console (and the browser test): the page's own client and state.
window.fedwearDashboard = { client, users, rounds, state };
client.on('connect', () => {
  state.connected = true;
  client.subscribe(['fedwear/v1/privacy/+/budget', 'fedwear/v1/audit/+', 'fedwear/v1/model/current', 'fedwear/v1/metrics/rounds'], { qos: 1 });
  render();
});
client.on('close', () => { state.connected = false; render(); });
client.on('message', (topic, payload) => {
  state.messages++;
  state.topics.add(topic);
  const parts = topic.split('/');
  const json = () => JSON.parse(new TextDecoder().decode(payload));
  try {
    if (parts[2] === 'privacy' && parts[4] === 'budget') {
      const u = userOf(parts[3]);
      u.budget = json();
      // Keep one point per ledger length: a reconnect re-delivers the same retained summary.
      const last = u.history[u.history.length - 1];
      if (!last || last.entries !== u.budget.entries) u.history.push({ entries: u.budget.entries, epsilon: u.budget.epsilonSpent });
    } else if (parts[2] === 'audit') {
      userOf(parts[3]).verdict = json();
    } else if (parts[2] === 'metrics' && parts[3] === 'rounds') {
      const m = json();
      rounds.set(m.roundId, m);
    } else if (parts[2] === 'model') {
      // FWMD: magic(4) version(1) u32 LE manifest length, manifest JSON.
      const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      const n = dv.getUint32(5, true);
      state.model = JSON.parse(new TextDecoder().decode(payload.subarray(9, 9 + n))).modelVersion;
    }
  } catch (e) {
    state.bad++;
    console.warn('unreadable message on ' + topic, e);
  }
  render();
});
render();
`;

const STYLE = `body{font:14px system-ui,sans-serif;margin:20px 24px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:0 0 8px}
#head{display:flex;gap:18px;flex-wrap:wrap;align-items:baseline;margin-bottom:14px;color:#555}
#status[data-connected=true]{color:#2a7}#status[data-connected=false]{color:#c22}
main{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
section{flex:1 1 auto;background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:12px 14px;overflow-x:auto}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:4px 8px;text-align:left;white-space:nowrap}
th{font-weight:600;color:#555;font-size:12px}.num{text-align:right;font-variant-numeric:tabular-nums}
.hist{color:#777;font-size:12px;font-variant-numeric:tabular-nums}.ver{font-family:ui-monospace,monospace;font-size:12px}
.bar{width:140px;height:10px;background:#eee;border-radius:5px;overflow:hidden}.bar div{height:10px;background:#1f77b4}
.bar.near div{background:#e69500}.bar.over div{background:#c22}
.verdict.ok{color:#2a7;font-weight:600}.verdict.faults{color:#c22;font-weight:600}.verdict.pending{color:#999}
footer{margin-top:14px;color:#777;font-size:12px}`;

function page(cfg: { url: string; username: string; password: string }): string {
  // The JSON sits in a non-executed script element; '<' is escaped so it can never close the element.
  const json = JSON.stringify(cfg).replace(/</g, '\\u003c');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>fedwear live privacy dashboard</title>
<style>${STYLE}</style></head>
<body><h1>fedwear: live privacy dashboard</h1>
<div id="head"><span id="status" data-connected="false">connecting…</span><span>global model: <b id="model">-</b></span><span id="summary"></span><span>messages: <span id="messages">0</span></span></div>
<main>
<section id="budgets"><h2>Privacy budgets and audit verdicts</h2>
<table><thead><tr><th>user</th><th class="num">epsilon spent / budget</th><th></th><th class="num">ledger entries</th><th>epsilon after each ledger entry</th><th>audit</th><th class="num">checked (UTC)</th></tr></thead><tbody id="users"></tbody></table></section>
<section id="round-metrics"><h2>Rounds</h2>
<table><thead><tr><th class="num">round</th><th>model → new model</th><th class="num">participants</th><th>rejected (by reason)</th><th class="num">bytes</th><th class="num">update norm mean / max</th><th class="num">duration</th><th>closed by</th></tr></thead><tbody id="rounds"></tbody></table></section>
</main>
<footer>Read as the broker's <i>auditor</i> role over MQTT/WebSocket, read-only: budget summaries (privacy/+/budget), the auditor's verdicts (audit/+), round metrics (metrics/rounds) and the global model's version (model/current). Updates and round announcements are not readable by this role.</footer>
<script type="application/json" id="cfg">${json}</script>
<script src="/mqtt.min.js"></script><script>${PAGE_SCRIPT}</script></body></html>`;
}

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const bundle = fs.readFileSync(mqttBundlePath());
  const html = page({ url: o.brokerWsUrl, username: o.username, password: o.password });
  const server = http.createServer((req, res) => {
    const p = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return void res.writeHead(405).end();
    if (p === '/') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
    if (p === '/mqtt.min.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as { port: number };
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${addr.port}/`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
