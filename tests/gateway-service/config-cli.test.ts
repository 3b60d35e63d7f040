/**
 * The configuration (every error names the field and what it expects; the shipped example loads)
 * and `fedwear gateway run` as a real process: it reads its device file, serves /health, and on
 * SIGTERM flushes the store and exits 0.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../firmware-bindings/index.ts';
import { GatewayConfigError, loadGatewayConfig, parseGatewayConfig, RecordStore } from '../../gateway/index.ts';
import { REPO, spawnCli, waitForExit, waitForLine } from '../helpers/run-cli.ts';
import { GATEWAY, httpGet, passwordOf, promValue, removeTempDirs, simulatedRecords, tempDir } from './helpers.ts';

afterAll(() => removeTempDirs());

const VALID = {
  userId: 'alice',
  clientId: 'gw-alice',
  passwordFile: 'pw',
  broker: { url: 'mqtt://127.0.0.1:1883' },
  dataDir: 'data',
  profile: { sex: 'female', ageY: 34, weightKg: 62, heightCm: 168 },
  budget: { epsilonMax: 8, delta: 1e-5 },
};

function errorOf(raw: unknown): string {
  try {
    parseGatewayConfig(raw, '/cfg', 'gateway config test.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the config to be refused');
}

const patch = (p: Record<string, unknown>): Record<string, unknown> => ({ ...VALID, ...p });

describe('gateway config', () => {
  it('loads gateway/gateway.example.yaml; defaults are filled in and paths resolved against the file', () => {
    const c = loadGatewayConfig(path.join(REPO, 'gateway/gateway.example.yaml'));
    expect(c).toMatchObject({ userId: 'alice', clientId: 'gw-alice', username: 'gw-alice', http: { host: '127.0.0.1', port: 8080 }, budget: { accountant: 'rdp' } });
    expect(c.dataDir).toBe(path.join(REPO, 'gateway/gateway-data'));
    expect(c.passwordFile).toBe(path.join(REPO, 'gateway/gw-alice.password'));
    expect(c.model.baseDir).toBe(path.join(REPO, 'models/base'));
    expect(c.updates.encodings).toEqual(['int8-dense', 'float32']);
    expect(c.device).toEqual({ source: 'serial', path: '/dev/ttyACM0', baudRate: 115200 });
  });

  it('a minimal JSON config gets loopback HTTP, no device, and the default windowing', () => {
    const dir = tempDir('cfg');
    const file = path.join(dir, 'gw.json');
    fs.writeFileSync(file, JSON.stringify(VALID));
    const c = loadGatewayConfig(file);
    expect(c.http.host).toBe('127.0.0.1');
    expect(c.device).toEqual({ source: 'none' });
    expect(c.windowing).toEqual({ windowS: 60, maxLabelS: 300, minWindowS: 15 });
    expect(c.dataDir).toBe(path.join(dir, 'data'));
  });

  it.each([
    ['a missing field', { ...VALID, userId: undefined }, /userId: expected the user id/],
    ['a broker URL that is not MQTT', patch({ broker: { url: 'http://example.org' } }), /broker\.url: expected an mqtt:\/\/ or mqtts:\/\/ URL .*got "http:\/\/example\.org"/],
    ['an implausible age', patch({ profile: { ...VALID.profile, ageY: 200 } }), /profile\.ageY: expected age in years in \[5, 120\], got 200/],
    ['an unknown accountant', patch({ budget: { epsilonMax: 8, delta: 1e-5, accountant: 'zcdp' } }), /budget\.accountant: expected "rdp" or "prv", got "zcdp"/],
    ['delta out of range', patch({ budget: { epsilonMax: 8, delta: 2 } }), /budget\.delta: expected delta in \(0, 1\), got 2/],
    ['a misspelt field', patch({ brokr: {} }), /brokr: unknown field/],
    ['a nested unknown field', patch({ profile: { ...VALID.profile, restingHr: 60 } }), /profile\.restingHr: unknown field/],
    ['an unknown device source', patch({ device: { source: 'usb' } }), /device\.source: expected source: serial, file or none, got "usb"/],
    ['an unknown encoding', patch({ updates: { encodings: ['int4'] } }), /updates\.encodings\[0\]: expected one of int8-dense, int8-topk, float32, got "int4"/],
    ['a client id that is not the username', patch({ username: 'gw-bob' }), /clientId: expected "gw-bob" or "gw-bob:<session>"/],
    ['a CA file without TLS', patch({ broker: { url: 'mqtt://h:1883', caFile: 'ca.pem' } }), /broker\.caFile: applies to mqtts:\/\/ URLs only/],
    ['a bad port', patch({ http: { port: 70000 } }), /http\.port: expected a port number .*got 70000/],
  ])('names the field for %s', (_what, raw, re) => {
    const msg = errorOf(raw);
    expect(msg).toMatch(/^invalid gateway config test\.yaml:/);
    expect(msg).toMatch(re);
  });
});

describe('fedwear gateway run', () => {
  it('ingests its device file, serves /health, and on SIGTERM flushes the store and exits 0', async () => {
    const dir = tempDir('cli');
    const records = simulatedRecords().slice(0, 1500);
    const frames = records.map((r) => Buffer.from(encodeFrame(r)));
    // Two damaged frames (a flipped payload byte: bad CRC); the decoder resynchronises on the next one.
    for (const i of [100, 900]) frames[i][3] ^= 0x5a;
    fs.writeFileSync(path.join(dir, 'frames.bin'), Buffer.concat(frames));
    fs.writeFileSync(path.join(dir, 'pw'), passwordOf(GATEWAY));
    const config = {
      ...VALID,
      clientId: GATEWAY,
      // Nothing listens there: the service runs offline.
      broker: { url: 'mqtt://127.0.0.1:1', reconnect: { minMs: 50, maxMs: 200 } },
      device: { source: 'file', path: 'frames.bin' },
      http: { port: 0 },
      metrics: { port: 0 },
      profile: { ...VALID.profile, restingHrBpm: 60 },
    };
    fs.writeFileSync(path.join(dir, 'gw.json'), JSON.stringify(config));
    const child = spawnCli(['gateway', 'run', '--config', path.join(dir, 'gw.json')]);
    const exited = waitForExit(child);
    const endOfFile = waitForLine(child, 'stderr', /end of the device file/);
    const listening = JSON.parse(await waitForLine(child, 'stdout', /"event":"listening"/)) as { http: number; metrics: number };
    await endOfFile;
    const health = (await httpGet(listening.http, '/health')).json() as { status: string; userId: string; mqtt: { connected: boolean } };
    expect(health).toMatchObject({ status: 'ok', userId: 'alice', mqtt: { connected: false } });
    // Metrics on their own port (and not on the API's).
    expect((await httpGet(listening.http, '/metrics')).status).toBe(404);
    const metrics = (await httpGet(listening.metrics, '/metrics')).body;
    expect(promValue(metrics, 'fedwear_gateway_records_ingested_total')).toBe(records.length - 2);
    const frameErrors = metrics.split('\n').filter((l) => l.startsWith('fedwear_gateway_frame_errors_total{')).reduce((a, l) => a + Number(l.split(' ')[1]), 0);
    expect(frameErrors).toBe(2);
    expect(promValue(metrics, 'fedwear_gateway_process_resident_memory_bytes')).toBeGreaterThan(0);
    child.kill('SIGTERM');
    const r = await exited;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/"event":"stopped","signal":"SIGTERM"/);
    expect([...RecordStore.readAll(path.join(dir, 'data', 'records'))]).toHaveLength(records.length - 2);
    // A key was created on first start, and the ledger exists (empty: no round ran).
    expect(fs.existsSync(path.join(dir, 'data', 'keys', 'ledger-key.pem'))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'data', 'ledger.jsonl'), 'utf8')).toBe('');
  });

  it('refuses a bad config naming the field, exit code 1', async () => {
    const dir = tempDir('cli-bad');
    fs.writeFileSync(path.join(dir, 'gw.yaml'), 'userId: alice\nclientId: gw-alice\npasswordFile: pw\nbroker: { url: "ws://x" }\ndataDir: d\nprofile: { sex: female, ageY: 30, weightKg: 60, heightCm: 165 }\nbudget: { epsilonMax: 8, delta: 1.0e-5 }\n');
    const r = await waitForExit(spawnCli(['gateway', 'run', '--config', path.join(dir, 'gw.yaml')]));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/broker\.url: expected an mqtt:\/\/ or mqtts:\/\/ URL/);
  });
});
