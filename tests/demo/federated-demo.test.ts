/**
 * `fedwear demo` end to end, small: 4 users (four clusters), 3 rounds through the real aedes broker
 * with the in-process aggregator and auditor, four real gateway services (own data dir, key and
 * credentials each), and onnxruntime-node scoring every model on the held-out periods.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_KEYS, runFederatedDemo, type DemoReport } from '../../demo/index.ts';

const BUDGET = 8;
let dir: string;
let report: DemoReport;
let fromDisk: DemoReport;
let html: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-demo-test-'));
  const r = await runFederatedDemo({
    users: 4,
    rounds: 3,
    seed: 11,
    epsilon: BUDGET,
    delta: 1e-5,
    strategy: 'fedavg',
    compression: 'int8-dense',
    transport: 'memory',
    reportDir: dir,
    nonPrivate: false,
    trainS: 50 * 60,
    testS: 2 * 3600,
  });
  report = r.report;
  fromDisk = JSON.parse(fs.readFileSync(r.jsonFile, 'utf8')) as DemoReport;
  html = fs.readFileSync(r.htmlFile, 'utf8');
}, 180_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('fedwear demo, 4 users and 3 rounds', () => {
  it('writes report.json with the numbers it returned', () => {
    expect(fromDisk).toEqual(JSON.parse(JSON.stringify(report)));
    expect(report.users).toHaveLength(4);
    expect(new Set(report.users.map((u) => u.cluster)).size).toBe(4);
  });

  it('computes a finite MAE for every model, user, cluster and overall', () => {
    const all = [...report.users.map((u) => u.mae), ...report.clusters.map((c) => c.mae), report.overall.mae];
    expect(report.clusters.map((c) => c.name).sort()).toEqual([...new Set(report.users.map((u) => u.cluster))].sort());
    for (const m of all) for (const k of MODEL_KEYS) expect(Number.isFinite(m[k]) && m[k] > 0, `${k}: ${m[k]}`).toBe(true);
    for (const u of report.users) expect(u.testWindows).toBeGreaterThan(60);
    // The federated model is the base body moved by three rounds of updates: it scores differently.
    expect(report.overall.mae.federated).not.toBe(report.overall.mae.base);
  });

  it("keeps every user's epsilon within the budget, having spent it over 3 rounds", () => {
    for (const u of report.users) {
      expect(u.budget).toBe(BUDGET);
      expect(u.delta).toBe(1e-5);
      expect(u.epsilon).toBeLessThanOrEqual(BUDGET);
      expect(u.epsilonByRound.map((e) => e.round)).toEqual([1, 2, 3]);
      const eps = u.epsilonByRound.map((e) => e.epsilon);
      expect(eps[0]).toBeGreaterThan(0);
      expect(eps[1]).toBeGreaterThan(eps[0]);
      expect(eps[2]).toBeCloseTo(u.epsilon, 12);
    }
  });

  it("gets an ok verdict from the broker's auditor for every user", () => {
    expect(report.users.map((u) => u.audit)).toEqual(['ok', 'ok', 'ok', 'ok']);
    // Not even for a moment: a summary trailing its entry is "behind", which is not a fault (and
    // the demo refuses updates of users with a faulty verdict, so one would cost a participant).
    expect(report.auditInterimFaults).toBe(0);
  });

  it('records 3 rounds, each with every gateway participating and bytes carried', () => {
    expect(report.rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    for (const r of report.rounds) {
      expect(r.participants).toBe(4);
      expect(r.rejected).toBe(0);
      expect(r.bytes).toBeGreaterThan(4 * 500);
      expect(Number.isFinite(r.federatedMae.all)).toBe(true);
    }
  });

  it('renders a self-contained report.html with its plots', () => {
    expect(html).toMatch(/^<!doctype html>/);
    expect((html.match(/<svg /g) ?? []).length).toBe(4);
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//);
    for (const u of report.users) expect(html).toContain(u.id);
  });
});
