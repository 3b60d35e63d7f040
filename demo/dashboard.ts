/**
 * The live privacy dashboard: a page on a loopback node:http server that connects to the broker's
 * WebSocket listener with mqtt.js's browser bundle (served from node_modules, no CDN), logs in as
 * the auditor, and shows each user's budget summary and audit verdict, and the current global
 * model, as the retained messages arrive. It reads only what the broker's ACL lets an auditor read;
 * the round metrics (metrics/rounds) are operator-only, so the page shows the model version that
 * each round produces instead.
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
const users = new Map();
const state = { model: '-', connected: false, messages: 0 };
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
function render() {
  $('status').textContent = (state.connected ? 'connected as ' + cfg.username : 'disconnected') + ' | global model: ' + state.model + ' | messages: ' + state.messages;
  const rows = [...users.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([id, u]) => {
    const b = u.budget, v = u.verdict;
    const spent = b ? b.epsilonSpent : (v ? v.epsilonRecomputed : 0);
    const max = b ? b.epsilonMax : (v && v.epsilonMax) || 0;
    const pct = max > 0 ? Math.min(100, 100 * spent / max) : 0;
    const verdict = !v ? '<td>-</td>' : v.ok ? '<td class="ok">ok</td>' : '<td class="bad">' + esc(v.faults.map((f) => f.kind).join(', ')) + '</td>';
    return '<tr><td>' + esc(id) + '</td><td>' + spent.toFixed(3) + '</td><td>' + (max ? max : '-') + '</td><td><div class="bar"><div style="width:' + pct.toFixed(1) + '%"></div></div></td><td>' + (b ? b.entries : '-') + '</td>' + verdict + '<td>' + (v ? esc(v.checkedAt) : '-') + '</td></tr>';
  });
  $('users').innerHTML = rows.join('');
}
const client = mqtt.connect(cfg.url, { clientId: cfg.username + ':dashboard-' + Math.random().toString(16).slice(2, 10), username: cfg.username, password: cfg.password, reconnectPeriod: 2000, clean: true });
client.on('connect', () => {
  state.connected = true;
  client.subscribe(['fedwear/v1/privacy/+/budget', 'fedwear/v1/audit/+', 'fedwear/v1/model/current'], { qos: 1 });
  render();
});
client.on('close', () => { state.connected = false; render(); });
client.on('message', (topic, payload) => {
  state.messages++;
  const parts = topic.split('/');
  try {
    if (parts[2] === 'privacy' && parts[4] === 'budget') {
      const u = users.get(parts[3]) || {}; u.budget = JSON.parse(new TextDecoder().decode(payload)); users.set(parts[3], u);
    } else if (parts[2] === 'audit') {
      const u = users.get(parts[3]) || {}; u.verdict = JSON.parse(new TextDecoder().decode(payload)); users.set(parts[3], u);
    } else if (parts[2] === 'model') {
      // FWMD: magic(4) version(1) u32 LE manifest length, manifest JSON.
      const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      const n = dv.getUint32(5, true);
      state.model = JSON.parse(new TextDecoder().decode(payload.subarray(9, 9 + n))).modelVersion;
    }
  } catch (e) { console.warn('bad message on ' + topic, e); }
  render();
});
render();
`;

function page(cfg: { url: string; username: string; password: string }): string {
  // The JSON sits in a non-executed script element; '<' is escaped so it can never close the element.
  const json = JSON.stringify(cfg).replace(/</g, '\\u003c');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>fedwear live privacy dashboard</title>
<style>body{font:14px system-ui,sans-serif;margin:24px}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px}
.bar{width:200px;height:10px;background:#eee}.bar div{height:10px;background:#1f77b4}.ok{color:#2a7}.bad{color:#c22}</style></head>
<body><h1>fedwear: live privacy dashboard</h1><p id="status">connecting…</p>
<table><thead><tr><th>user</th><th>epsilon spent</th><th>budget</th><th></th><th>ledger entries</th><th>audit</th><th>checked</th></tr></thead><tbody id="users"></tbody></table>
<p>Read as the broker's <i>auditor</i> role over MQTT/WebSocket: budget summaries (privacy/+/budget), the auditor's verdicts (audit/+) and the global model's version (model/current).</p>
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
