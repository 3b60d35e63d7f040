/**
 * The live dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core.
 *
 * 1. Scripted: a real broker with a WebSocket listener and the dashboard; real MQTT clients over
 *    TCP (gw-alice and gw-bob as gateways, the aggregator) publish schema-valid messages, and the
 *    page shows the first budget, then the second, the verdicts, the model and the round rows; its
 *    auditor client is refused updates/+ and never receives an update.
 * 2. A real `fedwear demo` run (in process, 3 users) with the page open: every user's budget grows
 *    from round to round on the page and ends at the epsilon the report gives.
 *
 * Screenshots go to test-artifacts/ (dashboard.png, dashboard-demo.png), kept by CI. A missing
 * Chromium fails the file with a message saying how to install it: it never skips.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics, type BrokerHandle } from '../../broker/index.ts';
import { encodeModelMessage, parseAuditVerdict, parseBudgetSummary, parseRoundMetrics, type AuditVerdict, type BudgetSummary, type RoundMetrics } from '../../federation/index.ts';
import { quietProgress, runFederatedDemo, startDashboard, type Dashboard } from '../../demo/index.ts';
import { connectAs, endAll, passwordOf, startTestBroker, tcpUrl } from '../broker/harness.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-artifacts');
const VIEWPORT = { width: 1280, height: 360 };

let launched: Browser | undefined;
let launchError = '';

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  if (!fs.existsSync(CHROMIUM)) {
    launchError = `Chromium not found at ${CHROMIUM}: the dashboard's browser test needs it. Install Debian's chromium (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH to a Chromium binary.`;
    return;
  }
  try {
    launched = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  } catch (err) {
    launchError = `Chromium at ${CHROMIUM} did not start: ${(err as Error).message}`;
  }
});

afterAll(async () => {
  await launched?.close();
});

/** The browser, or a failure naming what is missing: each test fails (counted), none is skipped. */
function browser(): Browser {
  if (!launched) throw new Error(launchError || 'Chromium was not launched');
  return launched;
}

/** The attributes of one element, read in the page. */
function attrs(page: Page, selector: string): Promise<Record<string, string>> {
  return page.$eval(selector, (el) => Object.fromEntries([...el.attributes].map((a) => [a.name, a.value])));
}

async function screenshot(page: Page, name: string): Promise<void> {
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  expect(fs.readFileSync(file).subarray(1, 4).toString('latin1')).toBe('PNG');
}

describe('live dashboard in headless Chromium, scripted messages', () => {
  let broker: BrokerHandle;
  let brokerDir: string;
  let dash: Dashboard;

  beforeAll(async () => {
    ({ broker, dir: brokerDir } = await startTestBroker({ websocket: { host: '127.0.0.1', port: 0, path: '/mqtt' } }));
    dash = await startDashboard({ brokerWsUrl: `ws://127.0.0.1:${broker.wsPort}/mqtt`, username: 'auditor', password: passwordOf('auditor') });
  });

  afterAll(async () => {
    await dash?.close();
    await broker?.close();
    if (brokerDir) fs.rmSync(brokerDir, { recursive: true, force: true });
  });

  const now = (): string => new Date().toISOString();
  const budget = (userId: string, entries: number, epsilonSpent: number): BudgetSummary =>
    parseBudgetSummary(JSON.stringify({ v: 1, userId, epsilonSpent, epsilonMax: 8, delta: 1e-5, accountant: 'rdp', remaining: 8 - epsilonSpent, entries, lastEntryHash: String(entries).repeat(64).slice(0, 64), updatedAt: now() }));
  const verdict = (userId: string, b: BudgetSummary, faults: AuditVerdict['faults']): AuditVerdict =>
    parseAuditVerdict(JSON.stringify({ v: 1, userId, ok: faults.length === 0, epsilonRecomputed: b.epsilonSpent, epsilonClaimed: b.epsilonSpent, epsilonMax: 8, accountant: 'rdp', delta: 1e-5, entries: b.entries, faults, checkedAt: now() }));
  const metrics = (roundId: number, accepted: number, rejected: Record<string, number>): RoundMetrics =>
    parseRoundMetrics(JSON.stringify({ v: 1, roundId, modelVersion: `r${roundId - 1}`, newModelVersion: `r${roundId}`, strategy: 'fedavg', closedBy: 'quorum', accepted, rejected, bytes: 1700 * accepted, updateNorm: { mean: 0.8, max: 1 }, durationMs: 420, closedAt: now() }));
  const json = (x: unknown): string => JSON.stringify(x);

  it('shows a budget, then its update, the verdicts, the model and the rounds; the page cannot read updates', async () => {
    const page = await browser().newPage({ viewport: VIEWPORT });
    const [alice, bob, agg] = await Promise.all([connectAs(tcpUrl(broker), 'gw-alice'), connectAs(tcpUrl(broker), 'gw-bob'), connectAs(tcpUrl(broker), 'aggregator')]);
    try {
      await page.goto(dash.url);
      await page.waitForSelector('#status[data-connected="true"]');

      // The first budget, then a higher one: the row updates in place and keeps both values.
      await alice.publishAsync(topics.privacyBudget('alice'), json(budget('alice', 1, 1.25)), { qos: 1, retain: true });
      await page.waitForSelector('tr[data-user="alice"][data-epsilon="1.25"]');
      expect(await page.textContent('tr[data-user="alice"] [data-field="epsilon"]')).toBe('1.250');
      await alice.publishAsync(topics.privacyBudget('alice'), json(budget('alice', 2, 2.5)), { qos: 1, retain: true });
      await page.waitForSelector('tr[data-user="alice"][data-epsilon="2.5"]');
      expect(await attrs(page, 'tr[data-user="alice"]')).toMatchObject({ 'data-epsilon-max': '8', 'data-entries': '2', 'data-history': '1.25,2.5', 'data-verdict': 'pending' });
      expect(await page.textContent('tr[data-user="alice"] [data-field="epsilon"]')).toBe('2.500');

      // Verdicts: ok for alice, faults for bob.
      const bobBudget = budget('bob', 3, 7.9);
      await bob.publishAsync(topics.privacyBudget('bob'), json(bobBudget), { qos: 1, retain: true });
      await agg.publishAsync(topics.audit('alice'), json(verdict('alice', budget('alice', 2, 2.5), [])), { qos: 1, retain: true });
      await agg.publishAsync(topics.audit('bob'), json(verdict('bob', bobBudget, [{ kind: 'over-budget', detail: 'epsilon 8.4 exceeds the budget 8' }])), { qos: 1, retain: true });
      await page.waitForSelector('tr[data-user="alice"][data-verdict="ok"]');
      await page.waitForSelector('tr[data-user="bob"][data-verdict="faults"]');
      expect(await page.textContent('tr[data-user="alice"] [data-field="verdict"]')).toBe('ok');
      expect(await page.textContent('tr[data-user="bob"] [data-field="verdict"]')).toBe('over-budget');

      // The model and two rounds, published by the aggregator role.
      await agg.publishAsync(topics.modelCurrent(), Buffer.from(encodeModelMessage({ modelVersion: 'r2' }, new Uint8Array(0), new Float32Array(4))), { qos: 1, retain: true });
      await agg.publishAsync(topics.metricsRounds(), json(metrics(1, 2, {})), { qos: 1, retain: true });
      await agg.publishAsync(topics.metricsRounds(), json(metrics(2, 1, { 'stale-round': 1 })), { qos: 1, retain: true });
      await page.waitForSelector('tr[data-round="2"]');
      await page.waitForFunction(() => document.getElementById('model')?.textContent === 'r2');
      expect(await page.$$eval('#rounds tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.round))).toEqual(['1', '2']);
      expect(await attrs(page, 'tr[data-round="1"]')).toMatchObject({ 'data-model-version': 'r0', 'data-participants': '2', 'data-rejected': '0', 'data-bytes': '3400', 'data-closed-by': 'quorum' });
      expect(await attrs(page, 'tr[data-round="2"]')).toMatchObject({ 'data-participants': '1', 'data-rejected': '1' });
      expect(await page.textContent('tr[data-round="2"] [data-field="rejected"]')).toBe('stale-round: 1');
      expect(await page.textContent('tr[data-round="1"] [data-field="rejected"]')).toBe('none');

      // The page's own auditor session is refused updates/+ (SUBACK 128) ...
      const granted = await page.evaluate(
        () =>
          new Promise<number[]>((resolve) => {
            const c = (window as unknown as { fedwearDashboard: { client: import('mqtt').MqttClient } }).fedwearDashboard.client;
            const onPacket = (p: import('mqtt').Packet): void => {
              if (p.cmd !== 'suback') return;
              c.off('packetreceive', onPacket);
              resolve(p.granted as number[]);
            };
            c.on('packetreceive', onPacket);
            c.subscribe('fedwear/v1/updates/+', { qos: 1 }, () => undefined);
          }),
      );
      expect(granted).toEqual([128]);
      // ... and receives no update: alice's update goes first, her next budget after it on the same connection.
      await alice.publishAsync(topics.updates('gw-alice'), Buffer.from([1, 2, 3]), { qos: 1 });
      await alice.publishAsync(topics.privacyBudget('alice'), json(budget('alice', 3, 3.75)), { qos: 1, retain: true });
      await page.waitForSelector('tr[data-user="alice"][data-epsilon="3.75"]');
      const seen = await page.evaluate(() => [...(window as unknown as { fedwearDashboard: { state: { topics: Set<string> } } }).fedwearDashboard.state.topics]);
      expect(seen).toContain(topics.metricsRounds());
      expect(seen.filter((t) => !/^fedwear\/v1\/(privacy\/[^/]+\/budget|audit\/[^/]+|model\/current|metrics\/rounds)$/.test(t))).toEqual([]);
      expect(await page.getAttribute('tr[data-user="alice"]', 'data-history')).toBe('1.25,2.5,3.75');

      await screenshot(page, 'dashboard.png');
    } finally {
      await endAll(alice, bob, agg);
      await page.close();
    }
  });
});

describe('live dashboard in headless Chromium during a real fedwear demo run', () => {
  const ROUNDS = 3;

  it("shows every user's budget growing round by round, the verdicts and the rounds", async () => {
    const page = await browser().newPage({ viewport: VIEWPORT });
    const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-dash-demo-'));
    let run: ReturnType<typeof runFederatedDemo> | undefined;
    try {
      // The demo waits for the page to be open and connected before any gateway starts, so the page
      // sees every budget from the first one on.
      run = runFederatedDemo(
        {
          users: 3, rounds: ROUNDS, seed: 11, epsilon: 8, delta: 1e-5, strategy: 'fedavg', compression: 'int8-dense', transport: 'memory', reportDir, nonPrivate: false, trainS: 120 * 60, testS: 900, dashboardPort: 0,
          onDashboard: async (url) => {
            await page.goto(url);
            await page.waitForSelector('#status[data-connected="true"]');
          },
        },
        quietProgress,
      );
      const { report } = await run;

      // Each user's final verdict and round metrics reached the page before the broker closed (the page keeps them).
      for (const u of report.users) {
        await page.waitForSelector(`tr[data-user="${u.id}"][data-verdict="ok"]`, { timeout: 10_000 });
        const a = await attrs(page, `tr[data-user="${u.id}"]`);
        expect(Number(a['data-epsilon'])).toBe(u.epsilon);
        expect(Number(a['data-epsilon-max'])).toBe(u.budget);
        const history = a['data-history'].split(',').map(Number);
        // Open before the first round, the page saw every round's budget, in order, as it happened.
        const byRound = u.epsilonByRound.map((e) => e.epsilon);
        expect(byRound.length).toBe(ROUNDS);
        expect(history, `epsilon values the page saw for ${u.id}`).toEqual(byRound);
        for (let i = 1; i < history.length; i++) expect(history[i]).toBeGreaterThan(history[i - 1]);
        expect(history.at(-1)).toBe(u.epsilon);
      }
      const last = report.rounds.at(-1)!;
      await page.waitForSelector(`tr[data-round="${last.round}"]`, { timeout: 10_000 });
      expect(await attrs(page, `tr[data-round="${last.round}"]`)).toMatchObject({ 'data-participants': String(last.participants), 'data-bytes': String(last.bytes), 'data-closed-by': last.closedBy });
      expect(report.rounds).toHaveLength(ROUNDS);

      await screenshot(page, 'dashboard-demo.png');
    } finally {
      await page.close();
      // A failed page must not leave the run going: it stops its broker and gateways when it ends.
      await run?.catch(() => undefined);
      fs.rmSync(reportDir, { recursive: true, force: true });
    }
  }, 120_000);
});
