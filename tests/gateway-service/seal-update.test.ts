/**
 * The compression path the gateway uses for its updates (sealUpdate): int8-dense is an unbiased
 * estimate of the DP delta (a statistical test, with a biased rounding as the negative control),
 * top-k with error feedback loses nothing over rounds, the norm bound holds on what the aggregator
 * decodes, and the encoding follows the preferences, the round's allowed list and its size limit.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, decompressUpdate, openEnvelope, totalSize } from '../../federation/index.ts';
import { decideStaleUpdate, sealUpdate, type SealInput, type SealedUpdate } from '../../gateway/index.ts';
import { gaussian, seededRng } from '../../models/index.ts';

const SHAPES = [[32, 12], [32], [16, 32], [16]]; // the base model's body
const N = totalSize(SHAPES);
const { privateKey, publicKey } = generateKeyPairSync('ed25519');

function delta(seed: number, scale = 0.01): Float32Array {
  const rng = seededRng(seed);
  return Float32Array.from({ length: N }, () => scale * gaussian(rng));
}

function input(over: Partial<SealInput> = {}): SealInput {
  return {
    delta: delta(1),
    shapes: SHAPES,
    residual: new Float32Array(N),
    preferences: { encodings: ['int8-dense', 'float32'], topK: { density: 0.1, scope: 'global' } },
    rules: { encodings: ['int8-dense', 'int8-topk', 'float32'], normBound: 100, maxBytes: 1 << 20 },
    modelVersion: 'base-1',
    roundId: 7,
    clientId: 'gw-alice',
    timestampMs: Date.UTC(2026, 1, 1),
    key: privateKey,
    random: seededRng(99),
    ...over,
  };
}

function sealed(over: Partial<SealInput> = {}): SealedUpdate {
  const r = sealUpdate(input(over));
  if (!r.ok) throw new Error(`${r.reason}: ${r.detail}`);
  return r.update;
}

/**
 * z-scores of the mean of K decoded updates against the true delta, each coordinate scaled by the
 * exact standard deviation of stochastic rounding (s²·p(1−p) for fraction p of x/s).
 */
function zScores(d: Float32Array, random: () => number, K: number): number[] {
  const sum = new Float64Array(N);
  let scales: Float32Array | null = null;
  for (let k = 0; k < K; k++) {
    const u = sealed({ delta: d, random });
    const env = decodeEnvelope(u.envelope);
    if (env.update.encoding !== 'int8-dense') throw new Error('expected int8-dense');
    scales = env.update.scales;
    const dec = decompressUpdate(env.update);
    if (k === 0) expect(Array.from(dec)).toEqual(Array.from(u.decoded)); // what the aggregator decodes is what the gateway reports
    for (let i = 0; i < N; i++) sum[i] += dec[i];
  }
  const z: number[] = [];
  let off = 0;
  SHAPES.forEach((shape, t) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const s = (scales as Float32Array)[t];
    for (let i = off; i < off + n; i++) {
      const x = d[i] / s;
      const p = x - Math.floor(x);
      const sd = s * Math.sqrt(p * (1 - p) / K);
      if (sd > 0) z.push((sum[i] / K - d[i]) / sd);
    }
    off += n;
  });
  return z;
}

describe('sealUpdate: the compression path of a round update', () => {
  it('int8-dense is an unbiased estimate of the delta (mean of 1,000 draws vs the exact rounding variance)', () => {
    const d = delta(3);
    const z = zScores(d, seededRng(5), 1000);
    expect(z.length).toBeGreaterThan(N * 0.9);
    const meanSq = z.reduce((a, b) => a + b * b, 0) / z.length;
    // sum z² ~ chi²(n): its mean is 1 ± 5·sqrt(2/n) with overwhelming probability.
    expect(Math.abs(meanSq - 1)).toBeLessThan(5 * Math.sqrt(2 / z.length));
    expect(Math.max(...z.map(Math.abs))).toBeLessThan(6);
  });

  it('the same statistic catches a biased rounding (negative control)', () => {
    const rng = seededRng(5);
    const z = zScores(delta(3), () => 0.5 * rng(), 300); // rounds down too often
    const meanSq = z.reduce((a, b) => a + b * b, 0) / z.length;
    expect(meanSq).toBeGreaterThan(10);
  });

  it('the envelope is signed by the gateway key, names the round, and carries exactly the decoded update', () => {
    const u = sealed();
    const env = openEnvelope(u.envelope, publicKey);
    expect([env.modelVersion, env.roundId, env.clientId, env.timestampMs]).toEqual(['base-1', 7, 'gw-alice', Date.UTC(2026, 1, 1)]);
    expect(env.update.shapes).toEqual(SHAPES);
    expect(u.encoding).toBe('int8-dense');
    expect(u.compressionRatio).toBeCloseTo(u.float32Bytes / u.envelope.length, 12);
    expect(u.compressionRatio).toBeGreaterThan(3);
    expect(Array.from(u.residual).every((x) => x === 0)).toBe(true);
  });

  it('top-k with error feedback: over rounds, the decoded updates plus the last residual add up to the deltas', () => {
    let residual: Float32Array = new Float32Array(N);
    const sumDelta = new Float64Array(N);
    const sumDecoded = new Float64Array(N);
    for (let r = 0; r < 5; r++) {
      const d = delta(10 + r);
      const u = sealed({ delta: d, residual, preferences: { encodings: ['int8-topk'], topK: { density: 0.1, scope: 'global' } } });
      expect(u.encoding).toBe('int8-topk');
      const kept = u.decoded.reduce((a, x) => a + (x !== 0 ? 1 : 0), 0);
      expect(kept).toBeLessThanOrEqual(Math.ceil(0.1 * N));
      for (let i = 0; i < N; i++) {
        sumDelta[i] += d[i];
        sumDecoded[i] += u.decoded[i];
      }
      residual = u.residual;
    }
    let maxErr = 0;
    for (let i = 0; i < N; i++) maxErr = Math.max(maxErr, Math.abs(sumDecoded[i] + residual[i] - sumDelta[i]));
    expect(maxErr).toBeLessThan(1e-6);
    expect(residual.some((x) => x !== 0)).toBe(true);
  });

  it("the round's norm bound holds on the decoded update (scaled down, flagged) and is left alone below it", () => {
    const d = delta(4, 0.5); // norm ≈ 0.5·sqrt(944) ≈ 15
    const big = sealed({ delta: d, rules: { encodings: ['int8-dense'], normBound: 2, maxBytes: 1 << 20 } });
    expect(big.norm).toBeLessThanOrEqual(2);
    expect(big.norm).toBeGreaterThan(1.99);
    expect(big.clipped).toBe(true);
    const small = sealed({ delta: d, rules: { encodings: ['int8-dense'], normBound: 100, maxBytes: 1 << 20 } });
    expect(small.clipped).toBe(false);
  });

  it("picks the first preferred encoding the round allows and whose envelope fits maxBytes", () => {
    expect(sealed({ rules: { encodings: ['float32'], normBound: 100, maxBytes: 1 << 20 } }).encoding).toBe('float32');
    const fits = sealed({ preferences: { encodings: ['float32', 'int8-dense'], topK: { density: 0.1, scope: 'global' } }, rules: { encodings: ['float32', 'int8-dense'], normBound: 100, maxBytes: 2000 } });
    expect(fits.encoding).toBe('int8-dense');
    const none = sealUpdate(input({ rules: { encodings: ['int8-topk'], normBound: 100, maxBytes: 1 << 20 } }));
    expect(none).toMatchObject({ ok: false, reason: 'no-common-encoding' });
    const tooBig = sealUpdate(input({ rules: { encodings: ['int8-dense', 'float32'], normBound: 100, maxBytes: 500 } }));
    expect(tooBig).toMatchObject({ ok: false, reason: 'too-large' });
  });
});

describe('decideStaleUpdate: what an update in the outbox may still do', () => {
  const sync = { roundId: 5, mode: 'sync' as const, maxStaleness: 0, deadlineMs: 1000 };
  const buffered = { roundId: 5, mode: 'buffered' as const, maxStaleness: 2, deadlineMs: 1000 };
  it('sync: sent while its round is open, dropped once superseded or past its deadline', () => {
    expect(decideStaleUpdate(sync, sync, 500)).toEqual({ send: true, staleness: 0 });
    expect(decideStaleUpdate(sync, { ...sync, roundId: 6 }, 500)).toMatchObject({ send: false, reason: 'round-closed' });
    expect(decideStaleUpdate(sync, undefined, 1001)).toMatchObject({ send: false, reason: 'deadline-passed' });
  });
  it("buffered: sent as stale within the newest round's maxStaleness, dropped beyond it", () => {
    expect(decideStaleUpdate(buffered, { ...buffered, roundId: 7 }, 5000)).toEqual({ send: true, staleness: 2 });
    expect(decideStaleUpdate(buffered, { ...buffered, roundId: 8 }, 5000)).toMatchObject({ send: false, reason: 'too-stale' });
    expect(decideStaleUpdate(buffered, { ...buffered, roundId: 6, maxStaleness: 0 }, 5000)).toMatchObject({ send: false, reason: 'too-stale' });
    expect(decideStaleUpdate(buffered, { ...sync, roundId: 6 }, 5000)).toMatchObject({ send: false, reason: 'too-stale' });
  });
});
