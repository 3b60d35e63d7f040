/**
 * The simulated fleet the load benches share (aggregator-load.ts, churn-load.ts): N gateway
 * identities with their own Ed25519 keys, one scrypt hash for all (the cost is still paid per
 * CONNECT on the broker, as in production), and the broker config with the in-process aggregator
 * written to a fresh folder. Not a benchmark itself (bench/run-all.ts skips it).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { hashPassword, saveCredentialsFile, type BrokerConfigInput, type CredentialsFile } from '../broker/index.ts';
import { compressUpdate, encodeEnvelope, type TensorShape } from '../federation/index.ts';

export const FLEET_PASSWORD = 'load-test-password';
export const MAX_CLIENTS = 5_000;
/** The base model's shared body (12-32-16-1: two hidden layers), 944 values. */
export const BODY_SHAPES: TensorShape[] = [[32, 12], [32], [16, 32], [16]];
export const BODY_SIZE = 944;

/** A positive whole-number command-line option, `--name N`. */
export function intArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive whole number`);
  return v;
}

/** Resident and peak resident memory of a process (Linux /proc). */
export function processRss(pid: number): { rssKiB: number; peakKiB: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(/\d+/.exec(status.split('\n').find((l) => l.startsWith(key)) ?? '')?.[0] ?? NaN);
  return { rssKiB: kib('VmRSS:'), peakKiB: kib('VmHWM:') };
}

/**
 * Gateway `index`'s signed int8 update for a round: a small delta distinct per gateway and round.
 * The benches seal every envelope before a round's clock starts: the gateways' cost is not the
 * aggregator's.
 */
export function fleetEnvelope(g: { username: string; privateKey: KeyObject }, index: number, round: number, modelVersion: string): Uint8Array {
  const delta = new Float32Array(BODY_SIZE).map((_, j) => 0.01 * Math.sin(index * 7.3 + j + round));
  const update = compressUpdate(delta, BODY_SHAPES, { encoding: 'int8-dense', random: Math.random });
  return encodeEnvelope({ modelVersion, roundId: round, clientId: g.username, timestampMs: Date.now(), update }, g.privateKey);
}

export interface FleetGateway {
  username: string;
  userId: string;
  password: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export interface Fleet {
  dir: string;
  gateways: FleetGateway[];
  /** broker.yaml in `dir`: start it with `fedwear broker --config`. */
  brokerConfigFile: string;
  config: ReturnType<typeof fleetBrokerConfig>;
}

/** The broker with the in-process aggregator; paths relative to the fleet's folder. */
function fleetBrokerConfig(o: { n: number; quorum: number; extraConnections: number; aggregatorLogLevel?: 'info' | 'warn' }) {
  return {
    credentialsFile: 'credentials.yaml',
    tcp: { host: '127.0.0.1', port: 0 },
    persistence: { type: 'memory' as const },
    limits: { maxConnections: o.n + o.extraConnections, connectionsPerIpPerSecond: 1e6, connectionBurstPerIp: 1e6, connectTimeoutMs: 60_000 },
    logLevel: 'warn' as const,
    aggregator: {
      dataDir: 'aggregator-data',
      modelDir: path.resolve(import.meta.dirname, '../models/base'),
      // No deadline in reach: a round closes on its quorum.
      round: { durationMs: 3_600_000, quorum: o.quorum },
      strategy: { name: 'fedavg' as const },
      training: { sampleRate: 0.05, steps: 20, noiseMultiplier: 1.1, maxGradNorm: 1, delta: 1e-5, lr: 0.05 },
      update: { normBound: 5, encodings: ['int8-dense' as const] },
      audit: { enabled: false },
      logLevel: o.aggregatorLogLevel ?? ('warn' as const),
    },
  } satisfies BrokerConfigInput;
}

export async function writeFleet(o: { name: string; n: number; quorum: number; extraConnections: number; aggregatorLogLevel?: 'info' | 'warn' }): Promise<Fleet> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fedwear-${o.name}-`));
  const passwordHash = await hashPassword(FLEET_PASSWORD, { ln: 10, r: 8, p: 1 });
  const gateways = Array.from({ length: o.n }, (_, i) => ({ username: `gw-${i}`, userId: `user-${i}`, password: FLEET_PASSWORD, ...generateKeyPairSync('ed25519') }));
  const credentials: CredentialsFile = {
    version: 1,
    users: [
      ...gateways.map((g) => ({ username: g.username, role: 'gateway' as const, userId: g.userId, passwordHash, publicKey: g.publicKey.export({ type: 'spki', format: 'pem' }).toString() })),
      { username: 'operator', role: 'operator' as const, passwordHash },
    ],
  };
  saveCredentialsFile(path.join(dir, 'credentials.yaml'), credentials);
  const config = fleetBrokerConfig(o);
  const brokerConfigFile = path.join(dir, 'broker.yaml');
  fs.writeFileSync(brokerConfigFile, stringify(config));
  return { dir, gateways, brokerConfigFile, config };
}
