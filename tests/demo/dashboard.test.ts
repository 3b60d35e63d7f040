/**
 * The live dashboard's server side: the page and the locally served mqtt.js bundle, and the
 * auditor login it embeds, used over the broker's real WebSocket listener. The page's script in a
 * real browser is tested in dashboard-browser.test.ts (headless Chromium).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, saveCredentialsFile, startBroker, type BrokerHandle, type CredentialsFile } from '../../broker/index.ts';
import { startDashboard, type Dashboard } from '../../demo/index.ts';

let dir: string;
let broker: BrokerHandle;
let dash: Dashboard;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-dash-test-'));
  const credentialsFile = path.join(dir, 'credentials.yaml');
  const users = [{ username: 'auditor', role: 'auditor', passwordHash: await hashPassword('auditor-pw', { ln: 10, r: 8, p: 1 }) }];
  saveCredentialsFile(credentialsFile, { version: 1, users } as CredentialsFile);
  broker = await startBroker(
    { credentialsFile, tcp: false, websocket: { host: '127.0.0.1', port: 0, path: '/mqtt' }, persistence: { type: 'memory' } },
    { logger: pino({ level: 'silent' }) },
  );
  dash = await startDashboard({ brokerWsUrl: `ws://127.0.0.1:${broker.wsPort}/mqtt`, username: 'auditor', password: 'auditor-pw' });
});

afterAll(async () => {
  await dash?.close();
  await broker?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function embeddedConfig(html: string): { url: string; username: string; password: string } {
  const m = /<script type="application\/json" id="cfg">(.*?)<\/script>/s.exec(html);
  if (!m) throw new Error('no embedded config');
  return JSON.parse(m[1]) as { url: string; username: string; password: string };
}

describe('live dashboard', () => {
  it('serves the page and the mqtt.js browser bundle from this machine, nothing from elsewhere', async () => {
    const page = await fetch(dash.url);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<script src="/mqtt.min.js"></script>');
    expect(html).not.toMatch(/https?:\/\//);
    const js = await fetch(new URL('/mqtt.min.js', dash.url));
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect((await js.text()).length).toBeGreaterThan(100_000);
    expect((await fetch(new URL('/nope', dash.url))).status).toBe(404);
  });

  it("embeds an auditor login that the broker's WebSocket listener accepts, with auditor rights only", async () => {
    const cfg = embeddedConfig(await (await fetch(dash.url)).text());
    expect(cfg.url).toBe(`ws://127.0.0.1:${broker.wsPort}/mqtt`);
    const client = mqtt.connect(cfg.url, { clientId: `${cfg.username}:test`, username: cfg.username, password: cfg.password, reconnectPeriod: 0 });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      const granted = await client.subscribeAsync(['fedwear/v1/privacy/+/budget', 'fedwear/v1/audit/+', 'fedwear/v1/model/current', 'fedwear/v1/metrics/rounds'], { qos: 1 });
      expect(granted.map((g) => g.qos)).toEqual([1, 1, 1, 1]);
      // Updates, round announcements and status records stay out of the auditor's reach.
      const codes: number[] = [];
      client.on('packetreceive', (p) => p.cmd === 'suback' && codes.push(...((p as { granted: number[] }).granted ?? [])));
      for (const f of ['fedwear/v1/updates/+', 'fedwear/v1/rounds/current', 'fedwear/v1/status/+']) await client.subscribeAsync(f, { qos: 1 }).catch(() => undefined);
      expect(codes).toEqual([128, 128, 128]);
    } finally {
      await client.endAsync(true);
    }
  });

  it('lets the run end while a dashboard page is still connected: the broker closes its WebSocket clients', async () => {
    const own = await startBroker(
      { credentialsFile: path.join(dir, 'credentials.yaml'), tcp: false, websocket: { host: '127.0.0.1', port: 0, path: '/mqtt' }, persistence: { type: 'memory' } },
      { logger: pino({ level: 'silent' }) },
    );
    const client = mqtt.connect(`ws://127.0.0.1:${own.wsPort}/mqtt`, { clientId: 'auditor:left-open', username: 'auditor', password: 'auditor-pw', reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const dropped = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await Promise.all([own.close(), dropped]);
    expect(client.connected).toBe(false);
    await client.endAsync(true);
  });
});
