/**
 * The gateway over mqtts:// with the broker's CA in its config: it connects, verifies the broker's
 * certificate, and its round's update arrives at an aggregator on the same TLS listener.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { topics, type BrokerHandle } from '../../broker/index.ts';
import type { GatewayService } from '../../gateway/index.ts';
import { Aggregator, GATEWAY, announcement, baseModel, feed, gatewayConfig, removeTempDirs, roundEvent, simulatedRecords, startGateway, startTestBroker, tempDir, writeGatewayKey } from './helpers.ts';

let broker: BrokerHandle | undefined;
let gw: GatewayService | undefined;
let agg: Aggregator | undefined;

afterAll(async () => {
  await gw?.stop();
  await agg?.end();
  await broker?.close();
  removeTempDirs();
});

describe('gateway service over TLS', () => {
  it('connects with the configured CA and delivers its update over mqtts', async () => {
    const dir = tempDir('tls');
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-keyout', keyFile, '-out', certFile, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]);
    broker = await startTestBroker(dir, { tcp: false, tls: { host: '127.0.0.1', port: 0, keyFile, certFile } });
    const url = `mqtts://127.0.0.1:${broker.tlsPort}`;
    agg = await Aggregator.connect(url, { ca: readFileSync(certFile) });
    await writeGatewayKey(dir);
    const g = await startGateway(gatewayConfig(dir, url, { budget: { epsilonMax: 100, delta: 1e-5 }, broker: { url, caFile: 'cert.pem', settleMs: 0 } }));
    gw = g;
    await new Promise<void>((r) => g.once('online', () => r()));
    expect(g.health().mqtt.connected).toBe(true);
    await feed(g, simulatedRecords());
    const base = await baseModel();
    const trained = roundEvent(g, 1, 'trained');
    await agg.announce(announcement({ roundId: 1, modelVersion: base.manifest.modelVersion, modelSha256: base.manifest.onnx.sha256 }));
    await trained;
    const [u] = await agg.waitFor(topics.updates(GATEWAY), 1);
    expect(u.payload.subarray(0, 4).toString('latin1')).toBe('FWUP');
  });
});
