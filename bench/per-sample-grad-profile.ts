/**
 * Where a DP-SGD step's time goes, per phase, for the Opacus benchmark's models: forward (with
 * the batch gather and the loss gradient), backward, ghost norms (+ clip factors), clipped weighted
 * sum, and noise + SGD update. Noise is timed two ways: the benchmark's seeded bulk generator
 * (models/random.ts fillGaussian, the analogue of Opacus's non-secure torch.normal) and the
 * deployed default, privacy/'s 'secure' noise (Opacus secure_mode: four CSPRNG normals per
 * coordinate). TS and WebAssembly SIMD kernels run back to back in the same process.
 *
 * Per phase: wall µs per step and CPU µs per step (process.cpuUsage around each phase; the
 * machine is shared, so CPU time is the steadier figure).
 * Run: npx tsx bench/per-sample-grad-profile.ts [--model=16-128-128-1]
 */
import os from 'node:os';
import { Mlp, fillGaussian, gaussian, initializeParams, seededRng } from '../models/index.ts';
import { MlpWorkspace, backwardBatch, forwardBatch, gatherRows } from '../models/mlp.ts';
import { addWeightedGradientSum, ghostNorms } from '../models/per-sample.ts';
import { MSE, lossGradient } from '../models/losses.ts';
import { wasmKernelsAvailable } from '../models/wasm-kernels.ts';
import { createGaussianNoise, createSecureRandom } from '../privacy/index.ts';

const N = 16384;
const only = process.argv.find((a) => a.startsWith('--model='))?.slice('--model='.length);
const models = ['8-32-32-1', '8-64-64-1', '16-128-128-1'].filter((m) => !only || m === only);
const PHASES = ['forward', 'backward', 'norms', 'sum', 'noise+update', 'secure noise'] as const;
console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; WebAssembly SIMD ${wasmKernelsAvailable() ? 'available' : 'unavailable'}`);

for (const name of models) {
  for (const B of [64, 256]) {
    for (const simd of [false, true]) {
      const sizes = name.split('-').map(Number);
      const last = sizes.length - 2;
      const rng = seededRng(42);
      const model = new Mlp({ layerSizes: sizes, activation: 'tanh' });
      initializeParams(model.layout, model.params, rng);
      const X = Float32Array.from({ length: N * sizes[0] }, () => gaussian(rng));
      const y = Float32Array.from({ length: N }, () => gaussian(rng));
      const ws = new MlpWorkspace(model.layout, 'float32', B);
      ws.simd = simd;
      const idx = Int32Array.from({ length: B }, (_, i) => (i * 4099) % N);
      const targets = new Float32Array(B);
      const norms = new Float64Array(B);
      const factors = new Float64Array(B);
      const P = model.paramCount;
      const grad = new Float64Array(P);
      const noise = new Float64Array(P);
      const noiseRng = seededRng(7);
      const secure = createGaussianNoise(createSecureRandom());
      const wall = new Float64Array(PHASES.length);
      const cpu = new Float64Array(PHASES.length);
      const steps = Math.max(20, Math.round(4e7 / (B * P)));
      let t = 0;
      let c = process.cpuUsage();
      const lap = (phase: number) => {
        const t1 = performance.now();
        const c1 = process.cpuUsage();
        wall[phase] += t1 - t;
        cpu[phase] += (c1.user - c.user + c1.system - c.system) / 1000;
        t = t1;
        c = c1;
      };
      for (let rep = 0; rep < 2; rep++) {
        wall.fill(0);
        cpu.fill(0);
        for (let s = 0; s < steps; s++) {
          t = performance.now();
          c = process.cpuUsage();
          gatherRows(X, sizes[0], idx, ws.inputs[0]);
          gatherRows(y, 1, idx, targets);
          forwardBatch(model.layout, model.params, ws, B);
          lossGradient(MSE, ws.output, targets, B, 1, ws.backprops[last]);
          lap(0);
          backwardBatch(model.layout, model.params, ws, B, 0);
          lap(1);
          ghostNorms(model.layout, ws, B, 0, last + 1, norms);
          for (let i = 0; i < B; i++) factors[i] = Math.min(1, 1 / (norms[i] + 1e-6));
          lap(2);
          grad.fill(0);
          addWeightedGradientSum(model.layout, ws, B, 0, last + 1, 0, factors, grad);
          lap(3);
          fillGaussian(noiseRng, noise);
          const p = model.params;
          const scale = 1e-8 / B;
          for (let q = 0; q < P; q++) p[q] -= scale * (grad[q] + noise[q]);
          lap(4);
          secure.addTo(noise, 1);
          lap(5);
        }
      }
      const stepCpu = cpu.slice(0, 5).reduce((a, b) => a + b, 0) / steps;
      const stepWall = wall.slice(0, 5).reduce((a, b) => a + b, 0) / steps;
      const cells = PHASES.map((ph, j) => `${ph} ${((wall[j] / steps) * 1000).toFixed(0)}/${((cpu[j] / steps) * 1000).toFixed(0)}`);
      console.log(
        `${name} B=${B} ${simd ? 'wasm' : 'ts  '}: step ${(stepWall * 1000).toFixed(0)}/${(stepCpu * 1000).toFixed(0)} µs wall/cpu ` +
          `= ${Math.round((B / stepCpu) * 1000)} samples/s cpu | ${cells.join(', ')} (µs wall/cpu per step)`,
      );
    }
  }
}
