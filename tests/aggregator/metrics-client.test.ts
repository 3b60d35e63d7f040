/**
 * `fedwear aggregator --metrics-port`: the plain client-mode aggregator serves its prom-client registry
 * as Prometheus text at /metrics (real HTTP GET), against a real mosquitto 2 started here.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { topics } from '../../broker/index.ts';
import { runCli, spawnCli, waitForExit, waitForLine } from '../helpers/run-cli.ts';
import { tempDir } from '../broker/harness.ts';
import { aggregatorConfig, decodeModel, deltaFor, makeGateways, seal, writeCredentials } from './helpers.ts';
import { startMosquitto } from '../helpers/servers.ts';




describe('fedwear aggregator --metrics-port', { timeout: 60_000 }, () => {
  const children: ChildProcess[] = [];
  const clients: MqttClient[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('serves Prometheus text at /metrics on the port printed in the ready line, live as rounds close', async () => {
    const dir = tempDir('agg-metrics');
    dirs.push(dir);
    const gws = makeGateways(1);
    await writeCredentials(dir, gws);
    const mosquitto = await startMosquitto(dir);
    children.push(mosquitto.child);
    const { url, observer } = mosquitto;
    clients.push(observer);

    fs.writeFileSync(path.join(dir, 'aggregator.yaml'), stringify(aggregatorConfig(dir, { dataDir: 'data', credentialsFile: 'credentials.yaml', round: { durationMs: 600_000, quorum: 1 } })));
    const agg = spawnCli(['aggregator', '--broker', url, '--config', path.join(dir, 'aggregator.yaml'), '--metrics-port', '0', '--metrics-host', '127.0.0.1']);
    children.push(agg);
    const exit = waitForExit(agg);
    const ready = JSON.parse(await waitForLine(agg, 'stdout', /"event":"aggregator-ready"/)) as { role: string; round: number; metrics: number };
    expect(ready).toMatchObject({ role: 'aggregator', round: 1 });
    expect(ready.metrics).toBeGreaterThan(0);

    const scrape = async (): Promise<string> => {
      const res = await fetch(`http://127.0.0.1:${ready.metrics}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      return res.text();
    };
    const before = await scrape();
    expect(before).toMatch(/^# TYPE fedwear_aggregator_updates_accepted_total counter$/m);
    expect(before).toMatch(/^fedwear_aggregator_open_round 1$/m);
    expect((await fetch(`http://127.0.0.1:${ready.metrics}/other`)).status).toBe(404);

    const model = new Promise<void>((resolve) => observer.on('message', (t, p) => t === topics.modelCurrent() && decodeModel(p).manifest.modelVersion === 'global-1' && resolve()));
    await observer.subscribeAsync(topics.modelCurrent(), { qos: 1 });
    await observer.publishAsync(topics.updates(gws[0].username), Buffer.from(seal(gws[0], deltaFor(5), { round: 1, modelVersion: 'base-1' })), { qos: 1 });
    await model;
    const after = await scrape();
    expect(after).toMatch(/^fedwear_aggregator_updates_accepted_total 1$/m);
    expect(after).toMatch(/^fedwear_aggregator_rounds_total\{closed_by="quorum"\} 1$/m);
    expect(after).toMatch(/^fedwear_aggregator_open_round 2$/m);

    agg.kill('SIGTERM');
    expect((await exit).code).toBe(0);
    // The listener is closed with the aggregator.
    await expect(fetch(`http://127.0.0.1:${ready.metrics}/metrics`)).rejects.toThrow();
  });

  it('refuses a bad --metrics-port before connecting', async () => {
    const r = await runCli(['aggregator', '--broker', 'mqtt://127.0.0.1:1', '--config', '/nonexistent.yaml', '--metrics-port', 'http']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--metrics-port: expected a port 0\.\.65535, got "http"/);
  });
});
