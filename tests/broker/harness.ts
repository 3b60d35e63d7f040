/** A real broker on loopback port 0 and real mqtt.js clients, for the broker tests. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient, type Packet } from 'mqtt';
import { pino } from 'pino';
import { saveCredentialsFile, hashPassword, startBroker, type BrokerConfigInput, type BrokerHandle, type CredentialsFile, type Role } from '../../broker/index.ts';

/** Cheap scrypt for tests (the format and the check are the same at any cost). */
export const FAST_SCRYPT = { ln: 10, r: 8, p: 1 };

export const USERS: Array<{ username: string; role: Role; userId?: string }> = [
  { username: 'gw-alice', role: 'gateway', userId: 'alice' },
  { username: 'gw-bob', role: 'gateway', userId: 'bob' },
  { username: 'aggregator', role: 'aggregator' },
  { username: 'auditor', role: 'auditor' },
  { username: 'operator', role: 'operator' },
];

export const passwordOf = (username: string): string => `${username}-secret`;

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `fedwear-${prefix}-`));
}

export async function writeCredentials(dir: string, file = 'credentials.yaml'): Promise<string> {
  const users = await Promise.all(
    USERS.map(async (u) => ({ ...u, passwordHash: await hashPassword(passwordOf(u.username), FAST_SCRYPT) })),
  );
  const target = path.join(dir, file);
  saveCredentialsFile(target, { version: 1, users } as CredentialsFile);
  return target;
}

export const silentLogger = pino({ level: 'silent' });

export interface TestBroker {
  broker: BrokerHandle;
  dir: string;
  credentialsFile: string;
}

export async function startTestBroker(config: Partial<BrokerConfigInput> = {}, dir = tempDir('broker')): Promise<TestBroker> {
  const credentialsFile = fs.existsSync(path.join(dir, 'credentials.yaml')) ? path.join(dir, 'credentials.yaml') : await writeCredentials(dir);
  const broker = await startBroker(
    {
      credentialsFile,
      tcp: { host: '127.0.0.1', port: 0 },
      persistence: { type: 'memory' },
      // Every test client comes from 127.0.0.1: the per-IP rate is tested on its own.
      limits: { connectionsPerIpPerSecond: 10_000, connectionBurstPerIp: 10_000 },
      ...config,
    },
    { logger: silentLogger },
  );
  return { broker, dir, credentialsFile };
}

/** Connects as `username` (client id = username unless given), never reconnecting on its own. */
/** `beforeConnect` runs before CONNECT is sent: attach listeners there for messages that follow CONNACK at once. */
export function connectAs(url: string, username: string, opts: IClientOptions = {}, beforeConnect?: (c: MqttClient) => void): Promise<MqttClient> {
  return connectRaw(url, { username, password: passwordOf(username), clientId: username, ...opts }, beforeConnect);
}

/** Like mqtt.connectAsync, but also rejects when the connection closes before CONNACK (which connectAsync ignores). */
export function connectRaw(url: string, opts: IClientOptions, beforeConnect?: (c: MqttClient) => void): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, ...opts });
  beforeConnect?.(client);
  return new Promise((resolve, reject) => {
    const fail = (err: Error): void => {
      client.off('connect', ok);
      client.end(true);
      reject(err);
    };
    const onClose = (): void => fail(new Error('connection closed before CONNACK'));
    const ok = (): void => {
      client.off('error', fail);
      client.off('close', onClose);
      resolve(client);
    };
    client.once('connect', ok);
    client.once('error', fail);
    client.once('close', onClose);
  });
}

export const tcpUrl = (b: BrokerHandle): string => `mqtt://127.0.0.1:${b.tcpPort}`;

/**
 * The SUBACK return codes for one SUBSCRIBE, read from the wire: mqtt.js reports the requested QoS,
 * not the codes, when one is 128 (edge-stack note §4).
 */
export function subscribeCodes(client: MqttClient, filter: string, qos: 0 | 1 = 1): Promise<number[]> {
  return new Promise((resolve) => {
    const onPacket = (p: Packet): void => {
      if (p.cmd !== 'suback') return;
      client.off('packetreceive', onPacket);
      resolve((p.granted as Array<number | { qos: number }>).map((g) => (typeof g === 'number' ? g : g.qos)));
    };
    client.on('packetreceive', onPacket);
    client.subscribe(filter, { qos }, () => {});
  });
}

export function waitClose(client: MqttClient): Promise<void> {
  return new Promise((resolve) => (client.disconnected ? resolve() : client.once('close', () => resolve())));
}

export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

/** Resolves with the first message on `topic`. */
export function nextMessage(client: MqttClient, topic: string): Promise<Received> {
  return new Promise((resolve) => {
    const onMessage = (t: string, payload: Buffer, packet: { retain?: boolean }): void => {
      if (t !== topic) return;
      client.off('message', onMessage);
      resolve({ topic: t, payload, retain: packet.retain === true });
    };
    client.on('message', onMessage);
  });
}

/** Records every topic a client receives. */
export function recordTopics(client: MqttClient): string[] {
  const seen: string[] = [];
  client.on('message', (t) => seen.push(t));
  return seen;
}

export async function endAll(...clients: Array<MqttClient | undefined>): Promise<void> {
  await Promise.all(clients.map((c) => c?.endAsync(true)));
}
