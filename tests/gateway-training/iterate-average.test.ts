/** runDpSgd's moving average of the iterates (post-processing of DP-SGD, De et al. 2022). */
import { describe, expect, it } from 'vitest';
import { runDpSgd, type DpTrainingRun } from '../../gateway/training/index.ts';
import { createGaussianNoise, seededRandomForTests, sgd, type PerSampleGradientSource } from '../../privacy/index.ts';

/** Per-sample loss ½‖θ − xᵢ‖²: gradient θ − xᵢ, so the iterates move towards the data's mean. */
function quadraticSource(params: Float64Array, points: Float64Array[]): PerSampleGradientSource {
  let batch: Int32Array = new Int32Array(0);
  return {
    numExamples: points.length,
    paramCount: params.length,
    tensorSizes: [params.length],
    perSampleNorms(indices, normsOut) {
      batch = Int32Array.from(indices);
      indices.forEach((i, b) => (normsOut[b] = Math.hypot(...params.map((p, j) => p - points[i][j]))));
    },
    addWeightedGradientSum(weights, out) {
      batch.forEach((i, b) => params.forEach((p, j) => (out[j] += weights[b] * (p - points[i][j]))));
    },
  };
}

const points = Array.from({ length: 200 }, (_, i) => Float64Array.from([Math.sin(i) + 3, Math.cos(i) - 2, (i % 7) / 7]));

async function run(emaDecay: number | undefined, onIterate?: (p: Float64Array) => void): Promise<Float64Array> {
  const params = new Float64Array(3);
  const random = seededRandomForTests(5);
  const opts: DpTrainingRun = {
    params,
    source: quadraticSource(params, points),
    config: { noiseMultiplier: 1, maxGradNorm: 1, clipping: 'flat', sampleRate: 0.1, expectedBatchSize: 20, lossReduction: 'mean' },
    steps: 30,
    update: sgd({ lr: 0.5, momentum: 0 }),
    noise: createGaussianNoise(random),
    random,
    allowInsecureRandomness: true,
    emaDecay,
    onProgress: () => onIterate?.(Float64Array.from(params)),
  };
  await runDpSgd(opts);
  return params;
}

describe('runDpSgd: moving average of the iterates', () => {
  it('returns the warm-up EMA min(d, (1+t)/(10+t)) of the very iterates the plain run takes', async () => {
    const iterates: Float64Array[] = [];
    const last = await run(undefined, (p) => iterates.push(p));
    expect(Array.from(last)).toEqual(Array.from(iterates.at(-1)!));

    // Same seed, so the same iterates; only what is returned changes.
    const averaged = await run(0.9);
    const ema = new Float64Array(3);
    iterates.forEach((p, t) => {
      const d = Math.min(0.9, (1 + t) / (10 + t));
      for (let j = 0; j < 3; j++) ema[j] = d * ema[j] + (1 - d) * p[j];
    });
    expect(Array.from(averaged)).toEqual(Array.from(ema));
    expect(Array.from(averaged)).not.toEqual(Array.from(last));
  });

  it('0 means the last iterate; a decay outside [0, 1) is refused by name', async () => {
    expect(Array.from(await run(0))).toEqual(Array.from(await run(undefined)));
    await expect(run(1)).rejects.toThrow(/emaDecay must be in \[0, 1\), got 1/);
  });
});
