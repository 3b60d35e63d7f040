import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { compressUpdate, encodeEnvelope, type CompressOptions, type TensorShape, type UpdateEnvelopeFields } from '../../federation/index.ts';
import { seededRng } from '../../models/index.ts';

/** mulberry32 (models' seededRng): reproducible streams. */
export const seededUniform = seededRng;

/** Standard normal values from a seeded source (Box–Muller), as a Float32Array. */
export function gaussianVector(n: number, seed: number, scale = 1): Float32Array {
  const u = seededUniform(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return out;
}

/** A small body: two hidden layers of a 6-8-4-1 MLP (the head is not federated). */
export const BODY_SHAPES: TensorShape[] = [[8, 6], [8], [4, 8], [4]];
export const BODY_SIZE = 8 * 6 + 8 + 4 * 8 + 4;

export interface TestKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
}
export function makeKeys(): TestKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey };
}

export function sealUpdate(
  keys: TestKeys,
  delta: Float32Array,
  over: Partial<Omit<UpdateEnvelopeFields, 'update'>> & { shapes?: TensorShape[]; compress?: CompressOptions } = {},
): Uint8Array {
  const update = compressUpdate(delta, over.shapes ?? BODY_SHAPES, over.compress ?? { encoding: 'int8-dense', random: seededUniform(1) });
  return encodeEnvelope(
    { modelVersion: over.modelVersion ?? 'kcal-mlp@3', roundId: over.roundId ?? 7, clientId: over.clientId ?? 'gw-alice', timestampMs: over.timestampMs ?? 1_764_000_000_000, update },
    keys.privateKey,
  );
}
