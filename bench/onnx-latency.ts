/**
 * onnxruntime-node inference latency of the exported models: float32 and int8 (weight-only QDQ,
 * per-channel), batch 1 and 256, one intra-op thread (models/onnx-runtime.ts). Latency is per
 * session.run() call including the JS tensor wrapping, median over runs. The reference is the same
 * float model's forward pass in fedwear's own TypeScript (Mlp.predict, used for training): what
 * loading onnxruntime buys (or costs, at batch 1) on the gateway.
 *
 * Run: npx tsx bench/onnx-latency.ts [--quick]
 */
import os from 'node:os';
import { type Measurement, median, writeResults } from './harness.ts';
import { Mlp, OnnxModelSession, dequantizeMlp, exportFloatOnnx, exportInt8Onnx, gaussian, initializeParams, quantizeMlp, seededRng } from '../models/index.ts';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 3 : 7;
const SECONDS = quick ? 0.2 : 0.5;
const archs = ['8-32-32-1', '16-128-128-1'];
const measurements: Measurement[] = [];

async function timeRuns(fn: () => Promise<unknown>): Promise<number[]> {
  const once = async (): Promise<number> => {
    let calls = 0;
    const start = process.hrtime.bigint();
    const limit = BigInt(Math.round(SECONDS * 1e9));
    let elapsed = 0n;
    do {
      await fn();
      calls++;
      elapsed = process.hrtime.bigint() - start;
    } while (elapsed < limit);
    return Number(elapsed) / 1e3 / calls;
  };
  await once(); // warm-up
  const out: number[] = [];
  for (let r = 0; r < RUNS; r++) out.push(await once());
  return out;
}

for (const name of archs) {
  const sizes = name.split('-').map(Number);
  const rng = seededRng(3);
  const model = new Mlp({ layerSizes: sizes, activation: 'tanh' });
  initializeParams(model.layout, model.params, rng);
  const variants = [
    ['float32', exportFloatOnnx(model)],
    ['int8', exportInt8Onnx(quantizeMlp(model))],
  ] as const;
  // The TypeScript reference runs the weights each ONNX variant holds (int8: dequantized).
  const tsWeights = { float32: model.params, int8: dequantizeMlp(quantizeMlp(model)) };
  for (const [kind, bytes] of variants) {
    const session = await OnnxModelSession.create(bytes);
    try {
      for (const batch of [1, 256]) {
        const X = Float32Array.from({ length: batch * sizes[0] }, () => gaussian(rng));
        const runs = await timeRuns(() => session.run(X, batch));
        const us = median(runs);
        const tsUs = median(await timeRuns(() => Promise.resolve(model.predict(X, batch, undefined, tsWeights[kind]))));
        const m: Measurement = {
          name: `${name} ${kind} batch ${batch}`,
          median: Math.round(us * 10) / 10,
          unit: 'µs/run',
          runs: runs.map((r) => Math.round(r * 10) / 10),
          extra: { modelBytes: bytes.length, samplesPerS: Math.round((batch / us) * 1e6), loadAverage1m: Math.round(os.loadavg()[0] * 100) / 100 },
          reference: { name: 'the same model in TypeScript (Mlp.predict)', value: Math.round(tsUs * 10) / 10, unit: 'µs/run', ratio: Math.round((tsUs / us) * 100) / 100 },
        };
        measurements.push(m);
        console.log(`${m.name.padEnd(32)} ${String(m.median).padStart(8)} µs/run   ${String(m.extra!.samplesPerS).padStart(9)} samples/s   ${bytes.length} bytes   TypeScript ${m.reference!.value} µs/run`);
      }
    } finally {
      await session.release();
    }
  }
}

const file = writeResults(
  'onnx-latency',
  measurements,
  'onnxruntime-node 1.30, intraOpNumThreads 1, graph optimisation "all", models exported by models/onnx-export.ts (Gemm transB form; int8 = DequantizeLinear per-channel axis 0 on int8 initializers). Latency per session.run() including JS overhead; shared 2-core machine, see loadAverage1m.',
);
console.log(`wrote ${file}`);
