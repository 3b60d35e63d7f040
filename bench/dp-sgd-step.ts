/**
 * Throughput of the privacy part of a DP-SGD step (clip factors, weighted sum, noise, scaling) over a
 * synthetic materialised PerSampleGradientSource: no model compute, so this is the engine's own
 * overhead. The model's per-sample gradient cost is measured by the models benchmark.
 * Run: npx tsx bench/dp-sgd-step.ts
 */
import { measureRate, writeResults, type Measurement } from './harness.ts';
import {
  MaterializedGradientSource,
  createDiscreteGaussianNoise,
  createGaussianNoise,
  createSecureRandom,
  dpSgdStep,
  poissonSample,
  seededRandomForTests,
  type GaussianNoise,
} from '../privacy/index.ts';

const measurements: Measurement[] = [];
const N = 4096;

for (const [arch, P] of [['8-32-32-1', 1377], ['16-128-128-1', 18817]] as const) {
  const fill = seededRandomForTests(1);
  // Materialising [N][P] for the larger model would take 300 MB: serve a 256-example pool instead.
  const pool = P > 5000 ? 256 : N;
  const grads = Float64Array.from({ length: pool * P }, () => (fill.nextDouble() - 0.5) * 0.2);
  const source = new MaterializedGradientSource(grads, P);
  for (const B of [64, 256]) {
    if (B > pool) continue;
    const batch = Int32Array.from({ length: B }, (_, i) => i);
    const noises: [string, GaussianNoise][] = [
      ['secure (Opacus secure_mode, CSPRNG)', createGaussianNoise(createSecureRandom())],
      ['plain (one Box-Muller draw, CSPRNG)', createGaussianNoise(createSecureRandom(), { kind: 'plain' })],
    ];
    if (P < 5000) noises.push(['discrete (exact, CSPRNG)', createDiscreteGaussianNoise(createSecureRandom())]);
    for (const [label, noise] of noises) {
      const r = measureRate(
        () => dpSgdStep(source, { noiseMultiplier: 1, maxGradNorm: 1, sampleRate: B / N, expectedBatchSize: B, lossReduction: 'mean' }, { noise, batch }),
        B,
        { runs: 5, seconds: 0.4 },
      );
      measurements.push({ name: `clip+sum+noise ${arch} (${P} params), batch ${B}, noise ${label}`, median: r.median, unit: 'samples/s', runs: r.runs });
    }
  }
}

// Poisson sampling alone (the CSPRNG draw per example per step).
const rng = createSecureRandom();
const ps = measureRate(() => poissonSample(N, 64 / N, rng), N, { runs: 5, seconds: 0.4 });
measurements.push({ name: `Poisson sampling over N=${N} (CSPRNG)`, median: ps.median, unit: 'examples/s', runs: ps.runs });

// Noise generation alone.
const buf = new Float64Array(100_000);
for (const [label, noise] of [
  ['secure', createGaussianNoise(createSecureRandom())],
  ['plain', createGaussianNoise(createSecureRandom(), { kind: 'plain' })],
] as const) {
  const r = measureRate(() => noise.addTo(buf, 1), buf.length, { runs: 5, seconds: 0.4 });
  measurements.push({ name: `Gaussian noise, ${label}`, median: r.median, unit: 'coordinates/s', runs: r.runs });
}
const small = new Float64Array(2000);
const discrete = createDiscreteGaussianNoise(createSecureRandom());
const d = measureRate(() => discrete.addTo(small, 1), small.length, { runs: 5, seconds: 0.4 });
measurements.push({ name: 'Gaussian noise, discrete (exact, BigInt rationals)', median: d.median, unit: 'coordinates/s', runs: d.runs });

const file = writeResults('dp-sgd-step', measurements, 'Synthetic materialised per-sample gradients; the model forward/backward is not included.');
for (const m of measurements) console.log(`${m.name}: ${m.median.toPrecision(4)} ${m.unit}`);
console.log(`wrote ${file}`);
