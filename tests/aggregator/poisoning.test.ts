/**
 * Poisoning through the aggregator's path (signed envelopes, the round engine, the configured
 * strategy): 20% of the updates each round are scaled by 100 or sign-flipped. The honest gateways
 * all pull the body towards a "teacher" model; the error is the global model's MAE against the
 * teacher's predictions, in kcal/min. The validation norm bound is deliberately loose here, so the
 * strategy alone has to cope.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildStrategy, loadBaseModel, parseAggregatorConfig, publishModel, RoundEngine, type BaseModel, type StrategyConfig } from '../../broker/index.ts';
import { Mlp } from '../../models/index.ts';
import { aggregatorConfig, BODY_SIZE, makeGateways, seal } from './helpers.ts';

const CLIENTS = 20;
const ATTACKERS = 4; // 20%
const ROUNDS = 4;
const gws = makeGateways(CLIENTS);
const keyOf = new Map(gws.map((g) => [g.username, g.publicKey]));

/** mulberry32 + Box–Muller: seeded normal values. */
function normals(seed: number): () => number {
  let a = seed >>> 0;
  const u = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

let base: BaseModel;
let teacher: Float32Array;
let X: Float32Array;
let yTeacher: Float32Array;
const N_EVAL = 400;

beforeAll(async () => {
  base = await loadBaseModel(aggregatorConfig('/tmp').modelDir as string);
  const g = normals(11);
  teacher = Float32Array.from(base.model.params);
  for (let i = 0; i < BODY_SIZE; i++) teacher[i] += 0.15 * g();
  X = new Float32Array(N_EVAL * 12).map(() => g());
  yTeacher = Float32Array.from(new Mlp(base.spec.arch, { params: teacher }).predict(X, N_EVAL));
});

function mae(params: Float32Array): number {
  const y = new Mlp(base.spec.arch, { params }).predict(X, N_EVAL);
  let s = 0;
  for (let i = 0; i < N_EVAL; i++) s += Math.abs(y[i] - yTeacher[i]);
  return s / N_EVAL;
}

type Attack = 'none' | 'scaled x100' | 'sign-flipped' | 'sign-flipped x100';
const FACTOR: Record<Attack, number> = { none: 1, 'scaled x100': 100, 'sign-flipped': -1, 'sign-flipped x100': -100 };

function run(strategy: StrategyConfig, attack: Attack): number {
  const config = parseAggregatorConfig(aggregatorConfig('/tmp/unused', { strategy, round: { durationMs: 1_000, quorum: CLIENTS }, update: { normBound: 1e8, maxBytes: 1 << 20, encodings: ['float32'] } }));
  const opts = { config, spec: base.spec, strategy: buildStrategy(config), publicKeyOf: (id: string) => keyOf.get(id), modelSha256Of: () => '0'.repeat(64) };
  const engine = new RoundEngine(opts, RoundEngine.initialState(opts, base.model, 0));
  const g = normals(99);
  for (let r = 1; r <= ROUNDS; r++) {
    const theta = engine.model.params;
    gws.forEach((gw, i) => {
      const d = new Float32Array(BODY_SIZE);
      for (let j = 0; j < BODY_SIZE; j++) d[j] = 0.5 * (teacher[j] - theta[j]) + 0.01 * g();
      if (i < ATTACKERS) for (let j = 0; j < BODY_SIZE; j++) d[j] *= FACTOR[attack];
      const verdict = engine.judge(seal(gw, d, { round: r, modelVersion: engine.round.modelVersion }), gw.username);
      if (!verdict.ok) throw new Error(`${gw.username}: ${verdict.reason} ${verdict.detail}`);
      engine.accept(verdict.update);
    });
    engine.adopt(engine.aggregate(r * 1_000, 'quorum').next);
  }
  return mae(engine.model.params);
}

describe('poisoning: 20% of updates scaled by 100 or sign-flipped', () => {
  it('robust strategies stay close to the clean run; FedAvg does not', () => {
    const strategies: Record<string, StrategyConfig> = {
      fedavg: { name: 'fedavg', serverLearningRate: 1 },
      'coordinate-median': { name: 'coordinate-median', serverLearningRate: 1 },
      'trimmed-mean (0.25)': { name: 'trimmed-mean', trimFraction: 0.25, serverLearningRate: 1 },
      'norm-bounding (M=3)': { name: 'norm-bounding', maxNorm: 3, serverLearningRate: 1 },
    };
    const attacks: Attack[] = ['none', 'scaled x100', 'sign-flipped', 'sign-flipped x100'];
    const start = mae(base.model.params);
    const err: Record<string, Record<Attack, number>> = {};
    for (const [name, s] of Object.entries(strategies)) {
      err[name] = {} as Record<Attack, number>;
      for (const a of attacks) err[name][a] = run(s, a);
    }
    const clean = err.fedavg.none;
    const rows = Object.entries(err).map(([name, e]) => `| ${name.padEnd(20)} | ${attacks.map((a) => e[a].toFixed(4).padStart(17)).join(' | ')} |`);
    console.log(
      [
        `\nMAE vs the teacher (kcal/min) after ${ROUNDS} rounds of ${CLIENTS} updates, ${ATTACKERS} of them poisoned; base model: ${start.toFixed(4)}`,
        `| strategy             | ${attacks.map((a) => a.padStart(17)).join(' | ')} |`,
        `|${'-'.repeat(22)}|${attacks.map(() => '-'.repeat(19)).join('|')}|`,
        ...rows,
      ].join('\n'),
    );

    // Learning happened in the clean run.
    expect(clean).toBeLessThan(start * 0.5);
    // The median and the trimmed mean shrug off every attack.
    for (const name of ['coordinate-median', 'trimmed-mean (0.25)']) {
      for (const a of attacks) expect(err[name][a], `${name} under ${a}`).toBeLessThan(clean * 2 + 0.02);
    }
    // Norm bounding caps a boosted update at M: scaled updates are harmless, boosted sign flips
    // still pull with at most 4·M/20 per round. A plain sign flip has an honest norm, so nothing is
    // clipped and it is exactly FedAvg there: norm bounding is no defence against it.
    expect(err['norm-bounding (M=3)']['scaled x100']).toBeLessThan(clean * 2 + 0.02);
    expect(err['norm-bounding (M=3)']['sign-flipped x100']).toBeLessThan(start * 0.5);
    expect(err['norm-bounding (M=3)']['sign-flipped']).toBe(err.fedavg['sign-flipped']);
    // FedAvg is wrecked by the boosted attacks; every robust strategy does at least 5x better.
    for (const a of ['scaled x100', 'sign-flipped x100'] as const) {
      expect(err.fedavg[a], `fedavg under ${a}`).toBeGreaterThan(Math.max(start, clean * 10));
      for (const name of ['coordinate-median', 'trimmed-mean (0.25)', 'norm-bounding (M=3)']) expect(err[name][a] * 5, `${name} vs fedavg under ${a}`).toBeLessThan(err.fedavg[a]);
    }
  });
});
