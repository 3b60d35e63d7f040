/**
 * Per-sample gradient throughput: what one DP-SGD step costs with models/ (ghost norms + one
 * weighted sum), at the model and batch sizes of Opacus 1.4.0's benchmark
 * (shared/vectors/opacus-bench.json), beside Opacus's dp_compute figures.
 *
 * Three measurements per row, samples/s, single thread, float32 parameters:
 *  - grad:  perSampleNorms + addWeightedGradientSum with the clip factors (forward, loss, backward,
 *           norms, clipped sum);
 *  - step:  grad + Gaussian noise on every parameter (seeded bulk Ziggurat (models/random.ts fillGaussian), like Opacus's
 *           non-secure mode with torch's generator) + division by the expected batch size + the SGD
 *           update — the same work as Opacus's dp_compute step. Reference: Opacus dp_compute at 1 thread.
 *  - step-ts: the same step on the plain-TS kernels (models/kernels.ts) instead of the WebAssembly
 *           SIMD ones (models/wasm-kernels.ts), measured back to back in the same process.
 * Batches are Poisson draws with rate B/N drawn before timing (Opacus: "training steps on tensors
 * already in memory"); the work of a call is the total size of the batches it runs.
 *
 * Run: npx tsx bench/per-sample-grad.ts [--quick] [--model=8-32-32-1]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Measurement, measureRate, writeResults } from './harness.ts';
import { Mlp, MlpGradientSource, fillGaussian, gaussian, initializeParams, seededRng } from '../models/index.ts';
import { setWasmKernels, wasmKernelsAvailable } from '../models/wasm-kernels.ts';

interface BenchRow {
  threads: number;
  omp_wait_policy: string;
  model: string;
  num_params: number;
  batch_size: number;
  dp_compute_samples_per_s: number;
  plain_compute_samples_per_s: number;
}
const benchFile = [path.resolve(import.meta.dirname, '../tests/fixtures/opacus-bench.json'), path.resolve(import.meta.dirname, '../../shared/vectors/opacus-bench.json')].find((f) => fs.existsSync(f));
if (!benchFile) throw new Error('opacus-bench.json not found in tests/fixtures or ../shared/vectors');
const opacus = JSON.parse(fs.readFileSync(benchFile, 'utf8')) as { meta: { dataset_size: number; max_grad_norm: number; noise_multiplier: number; lr: number }; rows: BenchRow[] };
const quick = process.argv.includes('--quick');
const N = opacus.meta.dataset_size;
const C = opacus.meta.max_grad_norm;
const sigma = opacus.meta.noise_multiplier;
const lr = opacus.meta.lr;

const only = process.argv.find((a) => a.startsWith('--model='))?.slice('--model='.length);
const configs = [...new Map(opacus.rows.map((r) => [`${r.model}/${r.batch_size}`, { model: r.model, batch: r.batch_size }])).values()].filter((c) => !only || c.model === only);
const measurements: Measurement[] = [];

for (const { model: name, batch: B } of configs) {
  const sizes = name.split('-').map(Number);
  const rng = seededRng(42);
  const model = new Mlp({ layerSizes: sizes, activation: 'tanh' });
  initializeParams(model.layout, model.params, rng);
  const X = Float32Array.from({ length: N * sizes[0] }, () => gaussian(rng));
  const y = Float32Array.from({ length: N }, () => gaussian(rng));
  const src = new MlpGradientSource(model, X, y);
  if (src.paramCount !== opacus.rows.find((r) => r.model === name)!.num_params) throw new Error(`${name}: parameter count differs from Opacus's`);

  const q = B / N;
  const batches: Int32Array[] = [];
  for (let s = 0; s < 32; s++) {
    const idx: number[] = [];
    for (let i = 0; i < N; i++) if (rng() < q) idx.push(i);
    batches.push(Int32Array.from(idx));
  }
  const work = batches.reduce((a, b) => a + b.length, 0);
  const maxB = Math.max(...batches.map((b) => b.length));
  const norms = new Float64Array(maxB);
  const factors = new Float64Array(maxB);
  const grad = new Float64Array(src.paramCount);
  const params = src.trainableParams();
  const noiseRng = seededRng(7);
  const noise = new Float64Array(src.paramCount);

  const gradOnly = () => {
    for (const idx of batches) {
      src.perSampleNorms(idx, norms);
      for (let i = 0; i < idx.length; i++) factors[i] = Math.min(1, C / (norms[i] + 1e-6));
      grad.fill(0);
      src.addWeightedGradientSum(factors, grad);
    }
  };
  const fullStep = () => {
    for (const idx of batches) {
      src.perSampleNorms(idx, norms);
      for (let i = 0; i < idx.length; i++) factors[i] = Math.min(1, C / (norms[i] + 1e-6));
      grad.fill(0);
      src.addWeightedGradientSum(factors, grad);
      const std = sigma * C;
      // Tiny lr keeps parameters from drifting over millions of benchmark steps.
      const scale = (lr * 1e-6) / B;
      fillGaussian(noiseRng, noise);
      for (let p = 0; p < grad.length; p++) params[p] -= scale * (grad[p] + std * noise[p]);
    }
  };

  const opts = quick ? { runs: 3, seconds: 0.2 } : { runs: 5, seconds: 0.5 };
  const ref1 = opacus.rows.find((r) => r.model === name && r.batch_size === B && r.threads === 1 && r.omp_wait_policy.startsWith('unset'))!;
  const ref2 = opacus.rows.filter((r) => r.model === name && r.batch_size === B && r.threads === 2);
  const kinds = [['grad', gradOnly, true], ['step', fullStep, true], ['step-ts', fullStep, false]] as const;
  for (const [kind, fn, simd] of kinds) {
    if (simd && !wasmKernelsAvailable()) console.log('WebAssembly SIMD unavailable: "grad" and "step" run on the TS kernels');
    setWasmKernels(simd);
    // CPU time beside wall time: the 2 cores are shared, and wall-clock rates drop with others' load.
    let calls = 0;
    const cpu0 = process.cpuUsage();
    const r = measureRate(() => {
      fn();
      calls++;
    }, work, opts);
    const cpu = process.cpuUsage(cpu0);
    const cpuRate = (calls * work) / ((cpu.user + cpu.system) / 1e6);
    const m: Measurement = {
      name: `${name} B=${B} ${kind}`,
      median: Math.round(r.median),
      unit: 'samples/s',
      runs: r.runs.map(Math.round),
      reference: { name: 'Opacus 1.4.0 dp_compute, 1 thread', value: ref1.dp_compute_samples_per_s, unit: 'samples/s', ratio: Math.round((r.median / ref1.dp_compute_samples_per_s) * 100) / 100 },
      extra: {
        cpuTimeSamplesPerS: Math.round(cpuRate),
        cpuTimeRatio: Math.round((cpuRate / ref1.dp_compute_samples_per_s) * 100) / 100,
        loadAverage1m: Math.round(os.loadavg()[0] * 100) / 100,
        kernels: simd && wasmKernelsAvailable() ? 'wasm-simd' : 'ts',
        params: src.paramCount,
        expectedBatch: B,
        meanActualBatch: work / batches.length,
        opacusDpCompute2Threads: Object.fromEntries(ref2.map((x) => [x.omp_wait_policy, x.dp_compute_samples_per_s])),
        opacusPlainCompute1Thread: ref1.plain_compute_samples_per_s,
      },
    };
    measurements.push(m);
    console.log(`${m.name.padEnd(26)} ${String(m.median).padStart(9)} samples/s (cpu-time ${Math.round(cpuRate)})   Opacus dp_compute(1 thread) ${ref1.dp_compute_samples_per_s}   ratio ${m.reference!.ratio} (cpu-time ${m.extra!.cpuTimeRatio})`);
  }
}

const file = writeResults(
  'per-sample-grad',
  measurements,
  'models/ ghost-norm per-sample gradients (MlpGradientSource), float32 params, single thread. "grad" = norms + clipped weighted sum; "step" adds Gaussian noise on all parameters and the SGD update, comparable to Opacus dp_compute; both on the WebAssembly SIMD kernels. "step-ts" = step on the plain-TS kernels, measured back to back. Opacus numbers from shared/vectors/opacus-bench.json (2-vCPU AMD EPYC, torch 1.13, hooks mode), +-15%.',
);
console.log(`wrote ${file}`);
