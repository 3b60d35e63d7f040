/**
 * A federated round across two brokers sharing one Redis (persistence and emitter): the real
 * gateway service (`fedwear gateway run`, reading a device file) on broker A, the aggregator
 * (`fedwear aggregator`) as a client of broker B. The round closes on the gateway's one update, the
 * new model is retained on A and reaches the gateway, and the round metrics count the update once.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { hashPassword, saveCredentialsFile, topics, type CredentialsFile } from '../../broker/index.ts';
import { parseRoundMetrics } from '../../federation/index.ts';
import { encodeFrame } from '../../firmware-bindings/index.ts';
import { writeLedgerKeyPair } from '../../privacy/index.ts';
import { aggregatorConfig, decodeModel } from '../aggregator/helpers.ts';
import { simulatedRecords } from '../gateway-service/helpers.ts';
import { spawnCli, waitForExit, waitForLine } from '../helpers/run-cli.ts';
import { connectAs, endAll, nextMessage, subscribeCodes, tempDir, FAST_SCRYPT, passwordOf } from './harness.ts';
import { spawnRedisBroker, startRedis, type RedisServer } from './redis-harness.ts';

describe('a round across two brokers on one Redis', () => {
  let redis: RedisServer | undefined;
  const children: ChildProcess[] = [];
  let dir: string | undefined;
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await redis?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('gateway on A, aggregator on B: the update is counted once and the new model is retained on A', async () => {
    dir = tempDir('redis-round');
    redis = await startRedis();
    const gwDir = path.join(dir, 'gw');
    const key = await writeLedgerKeyPair(path.join(gwDir, 'keys'));
    const hash = (u: string): Promise<string> => hashPassword(passwordOf(u), FAST_SCRYPT);
    saveCredentialsFile(path.join(dir, 'credentials.yaml'), {
      version: 1,
      users: [
        { username: 'gw-alice', role: 'gateway', userId: 'alice', passwordHash: await hash('gw-alice'), publicKey: fs.readFileSync(key.publicKeyPath, 'utf8') },
        { username: 'aggregator', role: 'aggregator', passwordHash: await hash('aggregator') },
        { username: 'auditor', role: 'auditor', passwordHash: await hash('auditor') },
        { username: 'operator', role: 'operator', passwordHash: await hash('operator') },
      ],
    } as CredentialsFile);

    const a = await spawnRedisBroker(dir, 'broker-a', redis.url);
    children.push(a.child);
    const b = await spawnRedisBroker(dir, 'broker-b', redis.url);
    children.push(b.child);

    // An operator on A watches the round metrics the aggregator publishes on B.
    const op = await connectAs(a.url, 'operator');
    const metrics = nextMessage(op, topics.metricsRounds());
    expect(await subscribeCodes(op, topics.metricsRounds())).toEqual([1]);

    fs.writeFileSync(
      path.join(dir, 'aggregator.yaml'),
      stringify(aggregatorConfig(dir, { dataDir: 'aggregator-data', credentialsFile: 'credentials.yaml', round: { durationMs: 600_000, quorum: 1 }, logLevel: 'info' })),
    );
    fs.writeFileSync(path.join(dir, 'aggregator.password'), passwordOf('aggregator') + '\n');
    const agg = spawnCli(['aggregator', '--broker', b.url, '--username', 'aggregator', '--password-file', path.join(dir, 'aggregator.password'), '--config', path.join(dir, 'aggregator.yaml')]);
    children.push(agg);
    const aggExit = waitForExit(agg);
    expect(JSON.parse(await waitForLine(agg, 'stdout', /"event":"aggregator-ready"/))).toMatchObject({ round: 1, model: 'base-1' });

    // The real gateway service on A, fed an hour of a simulated wearable from a device file.
    fs.writeFileSync(path.join(gwDir, 'frames.bin'), Buffer.concat(simulatedRecords().map((r) => Buffer.from(encodeFrame(r)))));
    fs.writeFileSync(path.join(gwDir, 'password'), passwordOf('gw-alice') + '\n');
    fs.writeFileSync(
      path.join(gwDir, 'gw.json'),
      JSON.stringify({
        userId: 'alice',
        clientId: 'gw-alice',
        passwordFile: 'password',
        broker: { url: a.url, reconnect: { minMs: 50, maxMs: 400 }, settleMs: 0 },
        dataDir: 'data',
        keyFile: 'keys/ledger-key.pem',
        device: { source: 'file', path: 'frames.bin' },
        profile: { sex: 'male', ageY: 22, weightKg: 73.4, heightCm: 173.5, restingHrBpm: 58 },
        budget: { epsilonMax: 8, delta: 1e-5, accountant: 'rdp' },
        http: { host: '127.0.0.1', port: 0 },
        training: { minExamples: 20 },
        logLevel: 'info',
      }),
    );
    const gw = spawnCli(['gateway', 'run', '--config', path.join(gwDir, 'gw.json')]);
    children.push(gw);
    const gwExit = waitForExit(gw);
    const newModel = waitForLine(gw, 'stderr', /"model":"global-1".*new global model|new global model.*"model":"global-1"/);
    await waitForLine(gw, 'stdout', /"event":"listening"/);

    // The gateway (on A) took the model the aggregator (on B) published after the round.
    await newModel;
    const m = parseRoundMetrics((await metrics).payload);
    expect(m).toMatchObject({ roundId: 1, accepted: 1, closedBy: 'quorum' });
    expect(Object.values(m.rejected ?? {}).reduce((s, n) => s + n, 0)).toBe(0);

    // A new subscriber on A gets global-1 retained: written once in Redis, visible from A.
    const auditor = await connectAs(a.url, 'auditor');
    const model = nextMessage(auditor, topics.modelCurrent());
    expect(await subscribeCodes(auditor, topics.modelCurrent())).toEqual([1]);
    const got = await model;
    expect(got.retain).toBe(true);
    expect(decodeModel(got.payload).manifest.modelVersion).toBe('global-1');
    await endAll(auditor, op);

    // Clients first, then the brokers they are connected to.
    const order: Array<[string, ChildProcess, ReturnType<typeof waitForExit>]> = [['gateway', gw, gwExit], ['aggregator', agg, aggExit], ['broker A', a.child, a.exit], ['broker B', b.child, b.exit]];
    for (const [what, child, exit] of order) {
      child.kill('SIGTERM');
      const r = await exit;
      expect(r.code, `${what}: ${r.stderr.slice(-2000)}`).toBe(0);
      // No error logged anywhere, and no update refused (a second delivery would be, as a duplicate).
      expect(r.stderr, what).not.toMatch(/"level":50|"msg":"update rejected"/);
    }
    // About 12 s alone; four child processes starting on busy shared cores have taken 47 s.
  }, 120_000);
});
