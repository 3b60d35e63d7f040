/**
 * Durable round state: `fedwear broker --config` with an in-process aggregator, killed with SIGKILL
 * mid-round and restarted on the same data. Gateways are mqtt.js clients that re-send whatever was
 * not acknowledged; every accepted update must count exactly once in the round's model.
 */
import fs from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { topics } from '../../broker/index.ts';
import { spawnCli, waitForExit, waitForLine } from '../helpers/run-cli.ts';
import { tempDir } from '../broker/harness.ts';
import { aggregatorConfig, decodeModel, deltaFor, expectedFedAvg, makeGateways, MODEL_DIR, passwordOf, seal, writeCredentials } from './helpers.ts';
import { loadBaseModel } from '../../broker/index.ts';
import type { ChildProcess } from 'node:child_process';

const N = 6;

interface BrokerProcess {
  child: ChildProcess;
  ready: Promise<{ tcp: number; round: number }>;
  /** The first log line (pino JSON on stderr) matching, whether already printed or still to come. */
  log(re: RegExp): Promise<Record<string, unknown>>;
}

function startBrokerProcess(config: string): BrokerProcess {
  const child = spawnCli(['broker', '--config', config]);
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  let buf = '';
  child.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters.splice(0)) (w.re.test(line) ? w.resolve(line) : waiters.push(w));
    }
  });
  const ready = waitForLine(child, 'stdout', /"event":"listening"/).then((l) => JSON.parse(l) as { tcp: number; round: number });
  return {
    child,
    ready,
    log: (re) =>
      new Promise<string>((resolve) => {
        const seen = lines.find((l) => re.test(l));
        if (seen !== undefined) resolve(seen);
        else waiters.push({ re, resolve });
      }).then((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('aggregator crash and restart (SIGKILL mid-round)', { timeout: 60_000 }, () => {
  const children: ChildProcess[] = [];
  const clients: MqttClient[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it('resumes with every accepted update counted once; redeliveries after the restart are duplicates', async () => {
    const dir = tempDir('agg-crash');
    const gws = makeGateways(N);
    await writeCredentials(dir, gws);
    const agg = aggregatorConfig(dir, { dataDir: 'agg-data', round: { durationMs: 600_000, quorum: N }, audit: { enabled: false }, logLevel: 'info' });
    const writeConfig = (port: number): string => {
      const file = path.join(dir, 'broker.yaml');
      fs.writeFileSync(file, stringify({ credentialsFile: 'credentials.yaml', tcp: { host: '127.0.0.1', port }, persistence: { type: 'level', path: 'broker-data' }, limits: { connectionsPerIpPerSecond: 1000, connectionBurstPerIp: 1000 }, logLevel: 'info', aggregator: agg }));
      return file;
    };

    const first = startBrokerProcess(writeConfig(0));
    children.push(first.child);
    const { tcp: port, round } = await first.ready;
    expect(round).toBe(1);
    const url = `mqtt://127.0.0.1:${port}`;

    // Gateways keep un-acknowledged QoS 1 publishes and re-send them after reconnecting (mqtt.js).
    const gateways = await Promise.all(
      gws.map(
        (g) =>
          new Promise<MqttClient>((resolve) => {
            const c = mqtt.connect(url, { clientId: g.username, username: g.username, password: passwordOf(g.username), reconnectPeriod: 150, connectTimeout: 2_000 });
            c.on('error', () => {});
            clients.push(c);
            c.once('connect', () => resolve(c));
          }),
      ),
    );
    const deltas = gws.map((_, i) => deltaFor(1_000 + i));
    const envelopes = gws.map((g, i) => Buffer.from(seal(g, deltas[i], { round: 1, modelVersion: 'base-1' })));
    const send = (i: number): Promise<unknown> => gateways[i].publishAsync(topics.updates(gws[i].username), envelopes[i], { qos: 1 });

    // Three acknowledged (so durable), then two more in flight when the process dies.
    const k = 3;
    const sawK = first.log(new RegExp(`"durable":${k}[,}].*"msg":"update accepted"`));
    for (let i = 0; i < k; i++) await send(i);
    await sawK;
    const inFlight = [send(3), send(4)];
    first.child.kill('SIGKILL');
    const died = await waitForExit(first.child);
    expect(died.signal).toBe('SIGKILL');

    const second = startBrokerProcess(writeConfig(port));
    children.push(second.child);
    const ready = await second.ready;
    expect(ready).toMatchObject({ tcp: port, round: 1 });
    const resumed = await second.log(/"msg":"aggregator started"/);
    expect(resumed.restored).toBeGreaterThanOrEqual(k);
    expect(resumed.restored).toBeLessThanOrEqual(k + 2);

    const observer = await mqtt.connectAsync(url, { clientId: 'auditor', username: 'auditor', password: passwordOf('auditor'), reconnectPeriod: 0 });
    clients.push(observer);
    const model = new Promise<Buffer>((resolve) => observer.on('message', (t, p) => t === topics.modelCurrent() && decodeModel(p).manifest.modelVersion === 'global-1' && resolve(p)));
    await observer.subscribeAsync(topics.modelCurrent(), { qos: 1 });

    // The in-flight ones are re-sent by mqtt.js after it reconnects; resolve when acknowledged.
    await Promise.all(inFlight);
    // gw-0's update again, as a redelivery would bring it: accepted before the crash, so a duplicate now.
    await gateways[0].publishAsync(topics.updates(gws[0].username), envelopes[0], { qos: 1 });
    expect(await second.log(/"reason":"duplicate"/)).toMatchObject({ clientId: gws[0].username, reason: 'duplicate' });
    await send(5);

    const m = decodeModel(await model);
    const base = await loadBaseModel(MODEL_DIR);
    const expected = expectedFedAvg(base.model.params, deltas);
    expect(Buffer.from(m.params.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    // The round's metrics, as an operator sees them (retained on metrics/rounds).
    const operator = await mqtt.connectAsync(url, { clientId: 'operator', username: 'operator', password: passwordOf('operator'), reconnectPeriod: 0 });
    clients.push(operator);
    const metrics = new Promise<Record<string, unknown>>((resolve) =>
      operator.on('message', (t, p) => {
        const m = JSON.parse(p.toString()) as Record<string, unknown>;
        if (t === topics.metricsRounds() && m.roundId === 1) resolve(m);
      }),
    );
    await operator.subscribeAsync(topics.metricsRounds(), { qos: 1 });
    expect(await metrics).toMatchObject({ roundId: 1, accepted: N, closedBy: 'quorum', newModelVersion: 'global-1' });
  });
});
