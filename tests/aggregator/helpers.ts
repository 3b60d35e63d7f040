/** Gateways with Ed25519 keys, their credentials, signed updates, and aggregator configs for the tests. */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { hashPassword, saveCredentialsFile, type AggregatorConfigInput, type CredentialsFile, type Role } from '../../broker/index.ts';
import { compressUpdate, decodeModelMessage, encodeEnvelope, fedAvg, type ModelMessage, type TensorShape, type UpdateEncoding } from '../../federation/index.ts';
import { REPO } from '../helpers/run-cli.ts';

export const MODEL_DIR = path.join(REPO, 'models/base');
/** The base model's shared body (12-32-16-1: two hidden layers). */
export const BODY_SHAPES: TensorShape[] = [[32, 12], [32], [16, 32], [16]];
export const BODY_SIZE = 32 * 12 + 32 + 16 * 32 + 16;
export const FAST_SCRYPT = { ln: 10, r: 8, p: 1 };
export const passwordOf = (username: string): string => `${username}-secret`;

export interface Gateway {
  username: string;
  userId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function makeGateways(n: number, prefix = 'gw'): Gateway[] {
  return Array.from({ length: n }, (_, i) => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    return { username: `${prefix}-${i}`, userId: `user-${i}`, privateKey, publicKey };
  });
}

/** Gateways (with keys) plus aggregator, auditor and operator identities. */
export async function writeCredentials(dir: string, gateways: readonly Gateway[], file = 'credentials.yaml'): Promise<string> {
  const others: Array<{ username: string; role: Role }> = [
    { username: 'aggregator', role: 'aggregator' },
    { username: 'auditor', role: 'auditor' },
    { username: 'operator', role: 'operator' },
  ];
  const hash = (u: string): Promise<string> => hashPassword(passwordOf(u), FAST_SCRYPT);
  const users = [
    ...(await Promise.all(
      gateways.map(async (g) => ({ username: g.username, role: 'gateway' as const, userId: g.userId, passwordHash: await hash(g.username), publicKey: g.publicKey.export({ type: 'spki', format: 'pem' }).toString() })),
    )),
    ...(await Promise.all(others.map(async (o) => ({ ...o, passwordHash: await hash(o.username) })))),
  ];
  const target = path.join(dir, file);
  fs.mkdirSync(dir, { recursive: true });
  saveCredentialsFile(target, { version: 1, users } as CredentialsFile);
  return target;
}

export function aggregatorConfig(dir: string, over: Partial<AggregatorConfigInput> = {}): AggregatorConfigInput {
  return {
    dataDir: path.join(dir, 'aggregator-data'),
    modelDir: MODEL_DIR,
    round: { durationMs: 60_000, quorum: 3 },
    strategy: { name: 'fedavg' },
    training: { sampleRate: 0.05, steps: 20, noiseMultiplier: 1.1, maxGradNorm: 1, delta: 1e-5, accountant: 'rdp', mu: 0, lr: 0.05, optimizer: 'sgd' },
    update: { normBound: 5, maxBytes: 64 * 1024, encodings: ['float32', 'int8-dense', 'int8-topk'] },
    audit: { enabled: true, refuseFaultyUsers: false },
    logLevel: 'silent',
    ...over,
  };
}

/** A deterministic body delta: small, distinct per seed, norm well under the bound. */
export function deltaFor(seed: number, scale = 0.01): Float32Array {
  const d = new Float32Array(BODY_SIZE);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < d.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    d[i] = scale * ((s / 2 ** 32) * 2 - 1);
  }
  return d;
}

export function seal(gw: Gateway, delta: Float32Array, opts: { round: number; modelVersion: string; encoding?: UpdateEncoding; clientId?: string; timestampMs?: number }): Uint8Array {
  const encoding = opts.encoding ?? 'float32';
  const update = compressUpdate(delta, BODY_SHAPES, encoding === 'float32' ? { encoding } : { encoding, random: () => 0.5, ...(encoding === 'int8-topk' ? { topK: { scope: 'global', density: 0.1 } } : {}) });
  return encodeEnvelope({ modelVersion: opts.modelVersion, roundId: opts.round, clientId: opts.clientId ?? gw.username, timestampMs: opts.timestampMs ?? 1_780_000_000_000, update }, gw.privateKey);
}

/** FedAvg of `deltas` on the body of `params`, computed by federation's own strategy: the exact expected model. */
export function expectedFedAvg(params: Float32Array, deltas: readonly Float32Array[]): Float32Array {
  const s = fedAvg({ round: { durationMs: 1, quorum: 1, dp: { minNoiseMultiplier: 1, maxGradNorm: 1, delta: 1e-5 } } });
  const body = params.slice(0, BODY_SIZE);
  const r = s.aggregate(body, deltas.map((delta, i) => ({ delta, weight: 1, clientId: `c${i}` })), {});
  const out = Float32Array.from(params);
  out.set(r.params, 0);
  return out;
}

export function decodeModel(payload: Uint8Array): ModelMessage {
  return decodeModelMessage(new Uint8Array(payload));
}
