/**
 * RDP accountant and noise calibration speed. Reference: Opacus 1.4.0's get_noise_multiplier times
 * recorded with the vectors (shared/vectors/opacus-noise-multiplier.json, `seconds`, same machine class).
 * Run: npx tsx bench/privacy-accountant.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { measureRate, writeResults, type Measurement } from './harness.ts';
import { calibrateNoiseMultiplier, clearRdpCache, rdpAccountant } from '../privacy/index.ts';

interface NmRow { accountant: string; target_epsilon: number; target_delta: number; sample_rate: number; steps: number; sigma: number; seconds: number }
const nmRows = (JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '..', 'tests', 'fixtures', 'opacus-noise-multiplier.json'), 'utf8')) as { rows: NmRow[] }).rows;

const measurements: Measurement[] = [];

// Epsilon of 10,000 steps, uncached (the per-step RDP curve is recomputed every call).
for (const [q, sigma] of [[0.01, 1.1], [0.1, 1.1], [0.5, 1.0]] as const) {
  const history = [{ noiseMultiplier: sigma, sampleRate: q, steps: 10_000 }];
  const r = measureRate(() => {
    clearRdpCache();
    rdpAccountant.epsilon(history, 1e-5);
  }, 1, { runs: 5, seconds: 0.5 });
  measurements.push({ name: `rdp epsilon, 10000 steps, q=${q} sigma=${sigma}, uncached`, median: r.median, unit: 'evaluations/s', runs: r.runs });
}

// A long ledger: 2,000 run-length entries over 4 distinct (q, sigma) pairs (the cache's case).
const ledger = Array.from({ length: 2000 }, (_, i) => ({ noiseMultiplier: [1.0, 1.1, 1.3, 2.0][i % 4], sampleRate: [0.01, 0.02][i % 2], steps: 1 + (i % 7) }));
const ledgerRate = measureRate(() => rdpAccountant.epsilon(ledger, 1e-5), 1, { runs: 5, seconds: 0.5 });
measurements.push({ name: 'rdp epsilon of a 2000-entry history (4 distinct pairs, cached curves)', median: ledgerRate.median, unit: 'evaluations/s', runs: ledgerRate.runs });

// Noise calibration, against Opacus's own timing for the same rows.
for (const row of nmRows.filter((r) => r.accountant === 'rdp' && r.target_epsilon === 3)) {
  let sigma = 0;
  const r = measureRate(() => {
    clearRdpCache();
    sigma = calibrateNoiseMultiplier({ targetEpsilon: row.target_epsilon, delta: row.target_delta, sampleRate: row.sample_rate, steps: row.steps, accountant: rdpAccountant }).noiseMultiplier;
  }, 1, { runs: 5, seconds: 1 });
  if (sigma !== row.sigma) throw new Error(`calibration gave ${sigma}, Opacus ${row.sigma}`);
  const opacusRate = 1 / row.seconds;
  measurements.push({
    name: `calibrate sigma (rdp) eps=${row.target_epsilon} q=${row.sample_rate} steps=${row.steps}`,
    median: r.median,
    unit: 'calibrations/s',
    runs: r.runs,
    reference: { name: 'Opacus 1.4.0 get_noise_multiplier (python)', value: opacusRate, unit: 'calibrations/s', ratio: r.median / opacusRate },
  });
}

const file = writeResults('privacy-accountant', measurements, 'Uncached = the per-step RDP curve over the 151 orders is recomputed each call; the fractional orders dominate.');
for (const m of measurements) console.log(`${m.name}: ${m.median.toPrecision(4)} ${m.unit}${m.reference ? ` (x${m.reference.ratio.toFixed(1)} vs ${m.reference.name})` : ''}`);
console.log(`wrote ${file}`);
