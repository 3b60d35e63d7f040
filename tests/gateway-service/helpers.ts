/**
 * Real parts for the gateway-service tests: an aedes broker on loopback (broker/index.ts) with a
 * credentials file made by hashPassword, a scripted aggregator as a real mqtt.js client with the
 * aggregator role, simulated wearable records (device-sim), and the base model.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { hashPassword, saveCredentialsFile, startBroker, topics, type BrokerConfigInput, type BrokerHandle, type CredentialsFile } from '../../broker/index.ts';
import { makeUsers, simulateDevice } from '../../device-sim/index.ts';
import { encodeModelMessage, type RoundAnnouncement } from '../../federation/index.ts';
import type { DeviceRecord } from '../../firmware-bindings/index.ts';
import { GatewayService, parseGatewayConfig, type GatewayConfig, type GatewayServiceOptions } from '../../gateway/index.ts';
import { FEATURE_NAMES, Mlp, loadModelDir, packageModel, type LoadedModelDir, type MlpArchitecture } from '../../models/index.ts';
import { writeLedgerKeyPair } from '../../privacy/index.ts';

export const FAST_SCRYPT = { ln: 10, r: 8, p: 1 };
export const GATEWAY = 'gw-alice';
export const USER = 'alice';
export const passwordOf = (u: string): string => `${u}-secret`;
export const silent = pino({ level: 'silent' });
export const BASE_DIR = path.resolve(import.meta.dirname, '../../models/base');

const dirs: string[] = [];
export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `fedwear-gws-${prefix}-`));
  dirs.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export async function writeCredentials(dir: string, gatewayUserId = USER): Promise<string> {
  const users = [
    { username: GATEWAY, role: 'gateway', userId: gatewayUserId, passwordHash: await hashPassword(passwordOf(GATEWAY), FAST_SCRYPT) },
    { username: 'aggregator', role: 'aggregator', passwordHash: await hashPassword(passwordOf('aggregator'), FAST_SCRYPT) },
    { username: 'auditor', role: 'auditor', passwordHash: await hashPassword(passwordOf('auditor'), FAST_SCRYPT) },
  ];
  const file = path.join(dir, 'credentials.yaml');
  saveCredentialsFile(file, { version: 1, users } as CredentialsFile);
  return file;
}

export async function startTestBroker(dir: string, over: Partial<BrokerConfigInput> = {}): Promise<BrokerHandle> {
  const credentialsFile = fs.existsSync(path.join(dir, 'credentials.yaml')) ? path.join(dir, 'credentials.yaml') : await writeCredentials(dir);
  return startBroker(
    {
      credentialsFile,
      tcp: { host: '127.0.0.1', port: 0 },
      persistence: { type: 'memory' },
      limits: { connectionsPerIpPerSecond: 10_000, connectionBurstPerIp: 10_000 },
      ...over,
    },
    { logger: silent },
  );
}

export const brokerUrl = (b: BrokerHandle): string => `mqtt://127.0.0.1:${b.tcpPort}`;

/** A gateway config for tests: loopback HTTP on a free port, fast reconnects, no settle delay. */
export function gatewayConfig(dir: string, url: string, over: Record<string, unknown> = {}): GatewayConfig {
  fs.writeFileSync(path.join(dir, 'password'), passwordOf(GATEWAY) + '\n');
  return parseGatewayConfig(
    {
      userId: USER,
      clientId: GATEWAY,
      passwordFile: 'password',
      broker: { url, reconnect: { minMs: 50, maxMs: 400 }, settleMs: 0, ...(over.broker as object | undefined) },
      dataDir: 'data',
      keyFile: 'keys/ledger-key.pem',
      profile: { sex: 'male', ageY: 22, weightKg: 73.4, heightCm: 173.5, restingHrBpm: 58 },
      budget: { epsilonMax: 8, delta: 1e-5, accountant: 'rdp' },
      http: { host: '127.0.0.1', port: 0 },
      training: { minExamples: 20 },
      logLevel: 'silent',
      ...Object.fromEntries(Object.entries(over).filter(([k]) => k !== 'broker')),
    },
    dir,
  );
}

/** The gateway's signing key pair (written where gatewayConfig points keyFile). */
export async function writeGatewayKey(dir: string): Promise<{ publicKeyPath: string }> {
  return writeLedgerKeyPair(path.join(dir, 'keys'));
}

/** Silent unless the config asks for debug logs (handy when a test hangs: logLevel 'debug' → stderr). */
export function startGateway(config: GatewayConfig, opts: GatewayServiceOptions = {}): Promise<GatewayService> {
  return GatewayService.start(config, { logger: config.logLevel === 'debug' ? pino({ level: 'debug' }, pino.destination(2)) : silent, processMetrics: false, ...opts });
}

let cachedRecords: DeviceRecord[] | undefined;
/** One hour of an endurance runner's sessions (~6,200 records, ~50 labelled windows). */
export function simulatedRecords(): DeviceRecord[] {
  if (!cachedRecords) {
    const [u] = makeUsers({ count: 1, seed: 3, clusters: ['endurance-runners'] });
    cachedRecords = [...simulateDevice(u, { startMs: Date.UTC(2026, 0, 5, 8), durationS: 3600, seed: 1, schedule: 'session' })];
  }
  return cachedRecords;
}

let base: LoadedModelDir | undefined;
export async function baseModel(): Promise<LoadedModelDir> {
  base ??= await loadModelDir(BASE_DIR);
  return base;
}

/** The body tensor shapes of the base architecture (12-32-16-1): what the aggregator validates against. */
export function bodyShapes(arch: MlpArchitecture): number[][] {
  const s = arch.layerSizes;
  const out: number[][] = [];
  for (let l = 0; l < s.length - 2; l++) out.push([s[l + 1], s[l]], [s[l + 1]]);
  return out;
}

/** A model/current message for new parameters of the base architecture. */
export async function modelMessage(version: string, params: Float32Array): Promise<{ bytes: Uint8Array; sha256: string }> {
  const b = await baseModel();
  const model = new Mlp(b.params.model.arch, { dtype: 'float32', params });
  const pkg = packageModel(model, { modelVersion: version, featureNames: FEATURE_NAMES, normalization: b.params.normalization, created: new Date('2026-02-01T00:00:00Z') });
  return { bytes: encodeModelMessage(pkg.manifest as unknown as Record<string, unknown> & { modelVersion: string }, pkg.onnx, params), sha256: pkg.manifest.onnx.sha256 };
}

export function announcement(over: Partial<RoundAnnouncement> & Pick<RoundAnnouncement, 'roundId' | 'modelVersion' | 'modelSha256'>): RoundAnnouncement {
  return {
    v: 1,
    deadlineMs: Date.now() + 3_600_000,
    quorum: 1,
    mode: 'sync',
    maxStaleness: 0,
    training: { sampleRate: 0.25, steps: 10, noiseMultiplier: 1.0, maxGradNorm: 1, delta: 1e-5, accountant: 'rdp', mu: 0.01, lr: 0.05, optimizer: 'sgd' },
    update: { encodings: ['int8-dense', 'float32'], normBound: 10, maxBytes: 65536 },
    ...over,
  };
}

export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

/**
 * The scripted aggregator: a real mqtt.js client with the aggregator role. Records every message
 * on updates/+ and privacy/+/# and lets the test wait for the n-th one of a topic.
 */
export class Aggregator extends EventEmitter {
  readonly received: Received[] = [];
  private constructor(readonly client: MqttClient) {
    super();
    client.on('message', (topic, payload, packet) => {
      const r = { topic, payload, retain: packet.retain === true };
      this.received.push(r);
      this.emit('message', r);
    });
  }

  static async connect(url: string, opts: IClientOptions = {}): Promise<Aggregator> {
    const client = mqtt.connect(url, { clientId: 'aggregator', username: 'aggregator', password: passwordOf('aggregator'), reconnectPeriod: 0, ...opts });
    const agg = new Aggregator(client);
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
      client.once('connect', (p) => resolve(p));
      client.once('error', reject);
    });
    // A resumed session still has its subscriptions; subscribing again would replay retained messages.
    if (!connack.sessionPresent) await client.subscribeAsync([`fedwear/v1/updates/+`, `fedwear/v1/privacy/+/#`], { qos: 1 });
    return agg;
  }

  on_(topic: string): Received[] {
    return this.received.filter((r) => r.topic === topic);
  }

  /** Resolves once `n` messages have arrived on `topic`. */
  waitFor(topic: string, n: number): Promise<Received[]> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        const got = this.on_(topic);
        if (got.length < n) return false;
        this.off('message', check);
        resolve(got);
        return true;
      };
      if (!check()) this.on('message', check);
    });
  }

  async publishModel(bytes: Uint8Array): Promise<void> {
    await this.client.publishAsync(topics.modelCurrent(), Buffer.from(bytes), { qos: 1, retain: true });
  }

  async announce(a: RoundAnnouncement): Promise<void> {
    await this.client.publishAsync(topics.roundsCurrent(), JSON.stringify(a), { qos: 1, retain: true });
  }

  async end(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** Resolves with the first gateway 'round' event matching. */
export function roundEvent(gw: GatewayService, roundId: number, phase: string): Promise<import('../../gateway/index.ts').RoundEvent> {
  return new Promise((resolve) => {
    const on = (e: import('../../gateway/index.ts').RoundEvent): void => {
      if (e.roundId !== roundId || e.phase !== phase) return;
      gw.off('round', on);
      resolve(e);
    };
    gw.on('round', on);
  });
}

/** Feeds records and waits until the gateway has estimated every window they completed. */
export async function feed(gw: GatewayService, records: readonly DeviceRecord[]): Promise<void> {
  gw.ingestRecords(records);
  await gw.flush();
}

export async function httpGet(port: number, pathAndQuery: string): Promise<{ status: number; body: string; json: () => unknown }> {
  const res = await fetch(`http://127.0.0.1:${port}${pathAndQuery}`);
  const body = await res.text();
  return { status: res.status, body, json: () => JSON.parse(body) };
}

/** Value of one Prometheus sample in text format (labels as written), or undefined. */
export function promValue(text: string, sample: string): number | undefined {
  for (const line of text.split('\n')) if (line.startsWith(sample + ' ')) return Number(line.slice(sample.length + 1));
  return undefined;
}
