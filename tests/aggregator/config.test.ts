/** The aggregator config, alone and as the `aggregator:` section of a broker config; `fedwear broker` starts it. */
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadBrokerConfig, parseAggregatorConfig, parseBrokerConfig, topics } from '../../broker/index.ts';
import { parseRoundAnnouncement } from '../../federation/index.ts';
import { spawnCli, waitForExit, waitForLine } from '../helpers/run-cli.ts';
import { connectAs, nextMessage, tempDir } from '../broker/harness.ts';
import { aggregatorConfig, makeGateways, writeCredentials } from './helpers.ts';

describe('aggregator config', () => {
  it('fills defaults and resolves paths against the config file folder', () => {
    const c = parseAggregatorConfig({ modelDir: '../models/base', training: { sampleRate: 0.1, steps: 5, epsilonPerRound: 0.5, maxGradNorm: 1, delta: 1e-5, lr: 0.1 }, update: { normBound: 2 } }, '/srv/fedwear');
    expect(c).toMatchObject({ dataDir: '/srv/fedwear/aggregator-data', modelDir: '/srv/models/base', mode: 'sync', strategy: { name: 'fedavg', serverLearningRate: 1 }, round: { durationMs: 60_000, quorum: 10, minUpdates: 1 } });
    expect(c.training).toMatchObject({ accountant: 'rdp', mu: 0, optimizer: 'sgd', epsilonPerRound: 0.5 });
    expect(c.update).toMatchObject({ maxBytes: 65_536, encodings: ['int8-dense', 'int8-topk', 'float32'] });
    expect(c.audit).toEqual({ enabled: true, refuseFaultyUsers: false, budgetGraceMs: 30_000 });
  });

  it('names every bad field', () => {
    const bad = () =>
      parseAggregatorConfig({
        modelDir: 'm',
        mode: 'buffered',
        strategy: { name: 'trimmed-mean', trimFraction: 0.7 },
        training: { sampleRate: 2, steps: 5, noiseMultiplier: 1, epsilonPerRound: 1, maxGradNorm: 1, delta: 1e-5, lr: 0.1 },
        update: { normBound: -1, encodings: ['gzip'] },
        extra: 1,
      });
    expect(bad).toThrow(/training\.sampleRate: expected the Poisson sample rate q in \(0, 1\], got 2/);
    expect(bad).toThrow(/training\.noiseMultiplier: give exactly one of noiseMultiplier and epsilonPerRound/);
    expect(bad).toThrow(/strategy\.trimFraction: expected trimFraction in \[0, 0\.5\), got 0\.7/);
    expect(bad).toThrow(/update\.normBound: expected the L2 bound on an update > 0, got -1/);
    expect(bad).toThrow(/update\.encodings\[0\]: expected float32, int8-dense or int8-topk, got "gzip"/);
    expect(bad).toThrow(/Unrecognized key.*extra/);
    const training = { sampleRate: 0.1, steps: 1, noiseMultiplier: 1, maxGradNorm: 1, delta: 1e-5, lr: 1 };
    expect(() => parseAggregatorConfig({ modelDir: 'm', mode: 'buffered', training, update: { normBound: 1 } })).toThrow(/buffered: buffered mode needs buffered: \{ bufferSize \}/);
    expect(() => parseAggregatorConfig({ modelDir: 'm', strategy: { name: 'krum' }, training: { sampleRate: 0.1, steps: 1, noiseMultiplier: 1, maxGradNorm: 1, delta: 1e-5, lr: 1 }, update: { normBound: 1 } })).toThrow(
      /strategy\.name: expected one of fedavg, fedadam, norm-bounding, coordinate-median, trimmed-mean, got "krum"/,
    );
  });

  it('is the aggregator: section of a broker config, with its paths resolved there too', () => {
    const c = parseBrokerConfig({ credentialsFile: 'creds.yaml', aggregator: { modelDir: 'base', dataDir: 'agg', training: { sampleRate: 0.1, steps: 5, noiseMultiplier: 1, maxGradNorm: 1, delta: 1e-5, lr: 0.1 }, update: { normBound: 2 } } }, '/etc/fw');
    expect(c.aggregator).toMatchObject({ modelDir: '/etc/fw/base', dataDir: '/etc/fw/agg' });
    expect(parseBrokerConfig({}).aggregator).toBeUndefined();
    expect(() => parseBrokerConfig({ aggregator: { modelDir: 'x', round: { quorum: 0 }, training: {}, update: { normBound: 1 } } })).toThrow(/aggregator\.round\.quorum: expected the quorum as a whole number > 0, got 0/);
    expect(() => parseBrokerConfig({ aggregator: { modelDir: 'x', round: { quorum: 0 }, training: {}, update: { normBound: 1 } } })).toThrow(/aggregator\.training\.lr:/);
  });

  it('fedwear broker --config starts the in-process aggregator when the section is there', { timeout: 30_000 }, async () => {
    const dir = tempDir('agg-cli');
    await writeCredentials(dir, makeGateways(1));
    const file = path.join(dir, 'broker.yaml');
    fs.writeFileSync(file, stringify({ credentialsFile: 'credentials.yaml', tcp: { host: '127.0.0.1', port: 0 }, persistence: { type: 'memory' }, logLevel: 'warn', aggregator: aggregatorConfig(dir, { dataDir: 'agg-data' }) }));
    expect(loadBrokerConfig(file).aggregator?.dataDir).toBe(path.join(dir, 'agg-data'));
    const child = spawnCli(['broker', '--config', file]);
    const exit = waitForExit(child);
    const ready = JSON.parse(await waitForLine(child, 'stdout', /"event":"listening"/)) as { tcp: number; round: number; model: string };
    expect(ready).toMatchObject({ round: 1, model: 'base-1' });
    const g = await connectAs(`mqtt://127.0.0.1:${ready.tcp}`, 'gw-0');
    const got = nextMessage(g, topics.roundsCurrent());
    await g.subscribeAsync(topics.roundsCurrent(), { qos: 1 });
    expect(parseRoundAnnouncement((await got).payload)).toMatchObject({ roundId: 1, modelVersion: 'base-1' });
    await g.endAsync(true);
    expect(fs.existsSync(path.join(dir, 'agg-data', 'state.json'))).toBe(true);
    child.kill('SIGTERM');
    expect((await exit).code).toBe(0);
  });
});
