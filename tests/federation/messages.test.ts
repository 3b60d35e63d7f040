import { describe, expect, it } from 'vitest';
import { decodeModelMessage, encodeModelMessage, MessageError, parseRoundAnnouncement, parseBudgetSummary, type RoundAnnouncement } from '../../federation/index.ts';

const announcement: RoundAnnouncement = {
  v: 1,
  roundId: 3,
  modelVersion: 'global-3',
  modelSha256: 'a'.repeat(64),
  deadlineMs: 1_700_000_000_000,
  quorum: 5,
  mode: 'sync',
  maxStaleness: 0,
  training: { sampleRate: 0.05, steps: 40, epsilonPerRound: 0.5, maxGradNorm: 1, delta: 1e-5, accountant: 'rdp', mu: 0.01, lr: 0.05, optimizer: 'sgd' },
  update: { encodings: ['int8-dense'], normBound: 10, maxBytes: 65536 },
};

describe('round announcement', () => {
  it('round-trips through JSON', () => {
    expect(parseRoundAnnouncement(JSON.stringify(announcement))).toEqual(announcement);
  });

  it('names the bad field', () => {
    const bad = { ...announcement, training: { ...announcement.training, sampleRate: 1.5 } };
    expect(() => parseRoundAnnouncement(JSON.stringify(bad))).toThrow(/training\.sampleRate: must be in \(0, 1\]/);
  });

  it('requires exactly one of a fixed sigma or a per-round epsilon', () => {
    const both = { ...announcement, training: { ...announcement.training, noiseMultiplier: 1.1 } };
    expect(() => parseRoundAnnouncement(JSON.stringify(both))).toThrow(/exactly one of noiseMultiplier or epsilonPerRound/);
  });

  it('refuses a batch size (it would reveal the example count)', () => {
    const withBatch = { ...announcement, training: { ...announcement.training, batchSize: 64 } };
    expect(() => parseRoundAnnouncement(JSON.stringify(withBatch))).toThrow(MessageError);
  });

  it('refuses non-JSON payloads with a clear error', () => {
    expect(() => parseBudgetSummary(new Uint8Array([0xff, 0xfe]))).toThrow(/bad budget summary message: not UTF-8 JSON/);
  });
});

describe('model message', () => {
  const onnx = new Uint8Array([8, 1, 2, 3, 0, 255]);
  const params = new Float32Array([0.5, -1.25, 3e-8, 42]);
  const manifest = { modelVersion: 'global-7', formatVersion: 1 };

  it('round-trips manifest, ONNX bytes and float parameters exactly', () => {
    const decoded = decodeModelMessage(encodeModelMessage(manifest, onnx, params));
    expect(decoded.manifest.modelVersion).toBe('global-7');
    expect(decoded.manifest.paramsSha256).toMatch(/^[0-9a-f]{64}$/);
    expect([...decoded.onnx]).toEqual([...onnx]);
    expect([...decoded.params]).toEqual([...params]);
  });

  it('detects tampered parameters, truncation and trailing bytes', () => {
    const bytes = encodeModelMessage(manifest, onnx, params);
    const tampered = bytes.slice();
    tampered[tampered.length - 1] ^= 1;
    expect(() => decodeModelMessage(tampered)).toThrow(/params do not match the manifest paramsSha256/);
    expect(() => decodeModelMessage(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated in params/);
    expect(() => decodeModelMessage(new Uint8Array([...bytes, 0]))).toThrow(/1 trailing bytes/);
    expect(() => decodeModelMessage(new Uint8Array([1, 2, 3, 4, 1]))).toThrow(/bad magic/);
  });
});
