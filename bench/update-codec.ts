/**
 * Update codec and aggregation throughput.
 *
 * Gateway side: compress + seal (int8 stochastic rounding, optional top-k, Ed25519) for a shared
 * body of ~10k and ~100k parameters. Aggregator side: validateUpdate (size, parse, signature,
 * contract, decode, finiteness, norm), the whole gate an update passes. Bytes per envelope for
 * each encoding. Then aggregation rate per strategy for 100 and 1000 updates of the 10k body, and
 * 100 updates of the 100k body.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  SeenUpdates,
  compressUpdate,
  coordinateMedian,
  encodeEnvelope,
  fedAdam,
  fedAvg,
  normBounding,
  totalSize,
  trimmedMean,
  validateUpdate,
  type ClientUpdate,
  type CompressOptions,
  type RoundPolicy,
  type Strategy,
  type TensorShape,
} from '../federation/index.ts';
import { measureRate, writeResults, type Measurement } from './harness.ts';
import { seededRng } from '../models/index.ts';

const rng = seededRng; // mulberry32: every run measures the same stream
function gaussian(n: number, seed: number, scale: number): Float32Array {
  const u = rng(seed);
  return Float32Array.from({ length: n }, () => scale * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()));
}

// Bodies of an MLP with two hidden layers (weights [out, in] then bias), ~10k and ~100k parameters.
const BODIES: Record<string, TensorShape[]> = {
  '10k': [[96, 64], [96], [36, 96], [36]],
  '100k': [[256, 128], [256], [256, 256], [256]],
};

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const measurements: Measurement[] = [];
function measure(name: string, fn: () => void, work: number, unit: string, extra: Record<string, unknown> = {}, opts = { runs: 5, seconds: 0.4 }): void {
  const { median, runs } = measureRate(fn, work, opts);
  measurements.push({ name, median, unit, runs, extra });
  console.log(`${name}: ${median.toLocaleString(undefined, { maximumFractionDigits: median < 100 ? 2 : 0 })} ${unit} ${JSON.stringify(extra)}`);
}

const round: RoundPolicy = { durationMs: 60_000, quorum: 10, dp: { minNoiseMultiplier: 1, maxGradNorm: 1, delta: 1e-5 } };

for (const [label, shapes] of Object.entries(BODIES)) {
  const n = totalSize(shapes);
  const delta = gaussian(n, 1, 1e-3);
  const random = rng(2);
  const encodings: [string, CompressOptions][] = [
    ['float32', { encoding: 'float32' }],
    ['int8-dense', { encoding: 'int8-dense', random }],
    ['int8-topk 10%', { encoding: 'int8-topk', random, topK: { scope: 'global', density: 0.1 } }],
  ];
  let float32Bytes = 0;
  for (const [encName, opts] of encodings) {
    const seal = () => encodeEnvelope({ modelVersion: 'kcal-mlp@1', roundId: 1, clientId: 'gw-bench', timestampMs: 1_764_000_000_000, update: compressUpdate(delta, shapes, opts) }, privateKey);
    const bytes = seal();
    const extra = { params: n, envelopeBytes: bytes.length, bytesPerParam: Math.round((bytes.length / n) * 1000) / 1000 };
    measure(`compress + seal, ${encName}, ${label} body`, () => void seal(), 1, 'updates/s', extra);
    const ctx = { modelVersion: 'kcal-mlp@1', shapes, openRound: 1, normBound: 1e3, maxBytes: 1 << 24, publicKeyOf: () => publicKey, seen: new SeenUpdates() };
    const check = validateUpdate(bytes, ctx);
    if (!check.ok) throw new Error(`bench envelope rejected: ${check.detail}`);
    measure(`validateUpdate, ${encName}, ${label} body`, () => void validateUpdate(bytes, ctx), 1, 'updates/s', extra);
    // What goes over MQTT per update, against the float32 envelope of the same delta.
    if (encName === 'float32') float32Bytes = bytes.length;
    else {
      measurements.push({
        name: `signed envelope size, ${encName}, ${label} body`,
        median: bytes.length,
        unit: 'bytes',
        runs: [bytes.length],
        extra,
        reference: { name: 'float32 envelope of the same delta', value: float32Bytes, unit: 'bytes', ratio: Math.round((float32Bytes / bytes.length) * 100) / 100 },
      });
    }
  }
}

const strategies: [string, () => Strategy<any>][] = [
  ['fedavg', () => fedAvg({ round })],
  ['fedadam', () => fedAdam({ round, serverLearningRate: 0.01 })],
  ['norm-bounding', () => normBounding({ round, maxNorm: 1 })],
  ['coordinate-median', () => coordinateMedian({ round })],
  ['trimmed-mean 10%', () => trimmedMean({ round, trimFraction: 0.1 })],
];
for (const [label, count] of [['10k', 100], ['10k', 1000], ['100k', 100]] as const) {
  const n = totalSize(BODIES[label]);
  const updates: ClientUpdate[] = Array.from({ length: count }, (_, k) => ({ delta: gaussian(n, 100 + k, 1e-3), weight: 1, clientId: `gw-${k}` }));
  const global = gaussian(n, 7, 0.1);
  for (const [name, make] of strategies) {
    const s = make();
    const state = s.initialState(n);
    measure(`aggregate ${name}, ${count} updates, ${label} body`, () => void s.aggregate(global, updates, state), count, 'updates/s', { params: n, updates: count }, { runs: 3, seconds: 0.3 });
  }
}

const file = writeResults(
  'update-codec',
  measurements,
  'Deltas are N(0, 1e-3²) per coordinate. compress + seal = compressUpdate + encodeEnvelope (Ed25519 over the bytes). validateUpdate = parse, key lookup, signature, contract checks, SHA-256 digest, decode, finiteness and norm. Aggregation rates count updates folded into one new model per second (single thread, shared 2-core machine).',
);
console.log(`wrote ${file}`);
