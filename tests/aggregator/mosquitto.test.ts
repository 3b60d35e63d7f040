/**
 * `fedwear aggregator` as a plain MQTT client of a real mosquitto 2 (Debian), started here with its
 * own config file; scripted gateways publish signed envelopes; the round completes.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBaseModel, topics } from '../../broker/index.ts';
import { parseRoundAnnouncement, parseRoundMetrics } from '../../federation/index.ts';
import { spawnCli, waitForExit, waitForLine } from '../helpers/run-cli.ts';
import { tempDir } from '../broker/harness.ts';
import { aggregatorConfig, decodeModel, deltaFor, expectedFedAvg, makeGateways, MODEL_DIR, seal, writeCredentials } from './helpers.ts';
import { startMosquitto } from '../helpers/servers.ts';




describe('aggregator as a client of mosquitto 2', { timeout: 60_000 }, () => {
  const children: ChildProcess[] = [];
  const clients: MqttClient[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it('completes a round against mosquitto with gateways publishing signed envelopes', async () => {
    const dir = tempDir('agg-mosquitto');
    const gws = makeGateways(4);
    await writeCredentials(dir, gws);
    const mosquitto = await startMosquitto(dir, { maxPacketBytes: 262_144 });
    children.push(mosquitto.child);
    const { url, observer } = mosquitto;
    clients.push(observer);

    fs.writeFileSync(path.join(dir, 'aggregator.yaml'), stringify(aggregatorConfig(dir, { dataDir: 'data', credentialsFile: 'credentials.yaml', round: { durationMs: 600_000, quorum: 3 }, logLevel: 'info' })));
    fs.writeFileSync(path.join(dir, 'password'), 'not-checked-by-this-mosquitto\n');
    const agg = spawnCli(['aggregator', '--broker', url, '--username', 'aggregator', '--password-file', path.join(dir, 'password'), '--config', path.join(dir, 'aggregator.yaml')]);
    children.push(agg);
    const exit = waitForExit(agg);
    const rejectedLine = waitForLine(agg, 'stderr', /"msg":"update rejected"/);
    const ready = JSON.parse(await waitForLine(agg, 'stdout', /"event":"aggregator-ready"/)) as { round: number; model: string };
    expect(ready).toMatchObject({ round: 1, model: 'base-1' });

    const announced = new Promise<Buffer>((resolve) => observer.on('message', (t, p) => t === topics.roundsCurrent() && resolve(p)));
    const model = new Promise<Buffer>((resolve) => observer.on('message', (t, p) => t === topics.modelCurrent() && decodeModel(p).manifest.modelVersion === 'global-1' && resolve(p)));
    const metrics = new Promise<Buffer>((resolve) => observer.on('message', (t, p) => t === topics.metricsRounds() && resolve(p)));
    for (const t of [topics.roundsCurrent(), topics.modelCurrent(), topics.metricsRounds()]) await observer.subscribeAsync(t, { qos: 1 });
    expect(parseRoundAnnouncement(await announced)).toMatchObject({ roundId: 1, modelVersion: 'base-1', quorum: 3 });

    const deltas = [0, 1, 2].map((i) => deltaFor(300 + i));
    const gateways = await Promise.all(gws.map((g) => mqtt.connectAsync(url, { clientId: g.username, reconnectPeriod: 0 })));
    clients.push(...gateways);
    // A forgery in gw-3's name first: refused, not counted.
    await gateways[3].publishAsync(topics.updates(gws[3].username), Buffer.from(seal({ ...gws[3], privateKey: gws[0].privateKey }, deltaFor(9), { round: 1, modelVersion: 'base-1' })), { qos: 1 });
    expect(JSON.parse(await rejectedLine)).toMatchObject({ gateway: gws[3].username, reason: 'bad-signature' });
    await Promise.all([0, 1, 2].map((i) => gateways[i].publishAsync(topics.updates(gws[i].username), Buffer.from(seal(gws[i], deltas[i], { round: 1, modelVersion: 'base-1', encoding: 'float32' })), { qos: 1 })));

    const m = decodeModel(await model);
    const base = await loadBaseModel(MODEL_DIR);
    expect(Buffer.from(m.params.buffer).equals(Buffer.from(expectedFedAvg(base.model.params, deltas).buffer))).toBe(true);
    expect(parseRoundMetrics(await metrics)).toMatchObject({ roundId: 1, accepted: 3, closedBy: 'quorum', rejected: { 'bad-signature': 1 } });

    agg.kill('SIGTERM');
    expect((await exit).code).toBe(0);
  });
});
