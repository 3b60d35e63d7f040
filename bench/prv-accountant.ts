/**
 * PRV accountant speed: one epsilon at the MNIST setting and at 10,000 steps for a few (q, sigma),
 * with the phases split out (grid + discretisation, FFT composition, epsilon read-off).
 * Reference: Opacus 1.5.4's own time for the same case where the grid has it
 * (tests/fixtures/prv-opacus-1.5.4-prv-epsilon.json, `seconds`; measured on another machine of the
 * same class, so the ratio is indicative only).
 * Run: npx tsx bench/prv-accountant.ts   (FEDWEAR_FULL=1 adds 4-14 million point grids)
 */
import fs from 'node:fs';
import path from 'node:path';
import { median, writeResults, type Measurement } from './harness.ts';
import {
  PoissonSubsampledGaussianPRV,
  TruncatedPRV,
  composeHeterogeneous,
  computeEpsilon,
  discretize,
  prvDomain,
  prvEpsilon,
} from '../privacy/prv/index.ts';
import type { MechanismStep } from '../privacy/types.ts';

interface Row { q: number; sigma: number; steps: number; delta: number; seconds?: number; eps?: number | string }
const grid = (JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '..', 'tests', 'fixtures', 'prv-opacus-1.5.4-prv-epsilon.json'), 'utf8')) as { rows: Row[] }).rows;

const FULL = process.env.FEDWEAR_FULL === '1';
const DELTA = 1e-5;
const cases: { name: string; history: MechanismStep[] }[] = [
  { name: 'MNIST: q=256/60000, sigma=1.1, 14063 steps', history: [{ noiseMultiplier: 1.1, sampleRate: 256 / 60000, steps: 14063 }] },
  ...(
    [
      [0.001, 1.5],
      [0.01, 2.0],
      [0.05, 4.0],
      [0.001, 0.5],
      [0.01, 0.8],
      ...(FULL ? [[0.05, 1.0], [0.1, 1.1]] : []),
    ] as [number, number][]
  ).map(([q, sigma]) => ({ name: `q=${q}, sigma=${sigma}, 10000 steps`, history: [{ noiseMultiplier: sigma, sampleRate: q, steps: 10_000 }] })),
];

function timed<T>(fn: () => T): [T, number] {
  const t0 = process.hrtime.bigint();
  const out = fn();
  return [out, Number(process.hrtime.bigint() - t0) / 1e9];
}

const measurements: Measurement[] = [];
prvEpsilon([{ noiseMultiplier: 1.1, sampleRate: 0.01, steps: 100 }], DELTA); // warm-up: JIT before anything is measured

for (const c of cases) {
  const runs: number[] = [];
  const phases = { domain: [] as number[], discretize: [] as number[], compose: [] as number[], epsilon: [] as number[] };
  let eps = NaN;
  let size = 0;
  const repeats = FULL ? 3 : 5;
  for (let i = 0; i < repeats; i++) {
    const [planned, tDomain] = timed(() => prvDomain(c.history, DELTA)!);
    const h = c.history[0];
    const [dprv, tDisc] = timed(() =>
      discretize(new TruncatedPRV(new PoissonSubsampledGaussianPRV(h.sampleRate, h.noiseMultiplier), planned.domain.tMin, planned.domain.tMax), planned.domain),
    );
    const [composed, tComp] = timed(() => composeHeterogeneous([dprv], [h.steps]));
    const [bounds, tEps] = timed(() => computeEpsilon(composed, DELTA, DELTA / 1000, 0.01));
    phases.domain.push(tDomain);
    phases.discretize.push(tDisc);
    phases.compose.push(tComp);
    phases.epsilon.push(tEps);
    runs.push(tDomain + tDisc + tComp + tEps);
    eps = bounds.upper;
    size = planned.domain.size;
  }
  // the phases above are exactly what prvEpsilon does; make sure the answer is the same
  if (prvEpsilon(c.history, DELTA).epsilon !== eps) throw new Error(`${c.name}: phased run differs from prvEpsilon`);
  const h = c.history[0];
  const ref = grid.find((r) => r.q === h.sampleRate && r.sigma === h.noiseMultiplier && r.steps === h.steps && r.delta === DELTA && typeof r.seconds === 'number');
  const m: Measurement = {
    name: `prv epsilon, ${c.name}`,
    median: median(runs),
    unit: 's per epsilon',
    runs,
    extra: {
      domainSize: size,
      epsilonUpper: eps,
      medianSeconds: {
        domainAndRdp: median(phases.domain),
        discretize: median(phases.discretize),
        composeFft: median(phases.compose),
        epsilonReadOff: median(phases.epsilon),
      },
    },
  };
  if (ref?.seconds) m.reference = { name: 'Opacus 1.5.4 PRVAccountant.get_epsilon (numpy/scipy pocketfft)', value: ref.seconds, unit: 's', ratio: ref.seconds / median(runs) };
  measurements.push(m);
  console.log(`${m.name}: ${m.median.toFixed(3)} s (N=${size}, eps=${eps.toFixed(6)})${m.reference ? `, Opacus ${ref!.seconds} s, ratio ${m.reference.ratio.toFixed(2)}` : ''}`);
}

const file = writeResults(
  'prv-accountant',
  measurements,
  'Wall time of one PRV epsilon (delta=1e-5, eps_error=0.01, delta_error=delta/1000), median of repeats after a JIT warm-up; ' +
    'the machine is shared (2 cores), so medians are noisy. Time grows with the grid size, ~2L/mesh with L ~ eps + 3 and mesh ~ 0.01/sqrt(steps).',
);
console.log(`wrote ${file}`);
