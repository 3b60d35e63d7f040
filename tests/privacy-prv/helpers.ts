import fs from 'node:fs';
import path from 'node:path';
import type { MechanismStep } from '../../privacy/types.ts';

/** FEDWEAR_FULL=1 runs every vector row the memory guard allows (minutes); default is a subset. */
export const FULL = process.env.FEDWEAR_FULL === '1';
/** Per-test timeout: the largest FULL rows (8-14 million points) take minutes on a loaded 2-core machine. */
export const TIMEOUT = FULL ? 900_000 : 60_000;

/** Default subset: grid rows whose Opacus domain is at most this many points (a few ms to ~0.1 s each). */
export const DEFAULT_MAX_DOMAIN = 40_000;

export function fixture<T>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '..', 'fixtures', name), 'utf8')) as T;
}

export interface OpacusPrvRow {
  q: number;
  sigma: number;
  steps: number;
  delta: number;
  domain_size?: number;
  predicted_domain_size: number;
  eps_lower?: number | string;
  eps_estimate?: number | string;
  eps_upper?: number | string;
  error?: string;
  skipped?: string;
}

export interface OpacusPrvFile {
  get_epsilon_checks: { q: number; sigma: number; steps: number; delta: number; get_epsilon: number }[];
  rows: OpacusPrvRow[];
}

export interface PldFile {
  rows: { q: number; sigma: number; steps: number; delta: number; eps: number }[];
}

export const history = (r: { q: number; sigma: number; steps: number }): MechanismStep[] => [
  { noiseMultiplier: r.sigma, sampleRate: r.q, steps: r.steps },
];

/** |a - b| relative to max(1, |b|): relative for large values, absolute near 0 (eps_lower can be ~0 or negative). */
export const relErr = (a: number, b: number): number => Math.abs(a - b) / Math.max(1, Math.abs(b));

export const label = (r: { q: number; sigma: number; steps: number; delta: number }): string =>
  `q=${r.q} sigma=${r.sigma} steps=${r.steps} delta=${r.delta}`;
