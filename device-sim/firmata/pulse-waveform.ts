/**
 * A photoplethysmogram as a pulse sensor on an ADC pin would give it: one pulse per heartbeat with a
 * sharp systolic peak and a smaller diastolic wave after the dicrotic notch, on a baseline that
 * drifts with breathing, plus sensor noise. Pure: beat times in, ADC counts out.
 *
 * Shape: two Gaussians (a common PPG model, e.g. the "sum of Gaussians" fits in Tang et al. 2020,
 * Physiol Meas 41:065006), systolic at 130 ms, diastolic at 360 ms with 40% of its height. Both
 * move earlier when beats come faster than 70/min, as arterial timing shortens with heart rate, so
 * consecutive pulses do not merge at high rates.
 */
import type { Rng } from '../rng.ts';

export interface PulseWaveformOptions {
  /** ADC counts at the trough (default 480). */
  baseline?: number;
  /** Height of the systolic peak in counts (default 260). */
  amplitude?: number;
  /** Respiratory baseline wander, counts and Hz (default 20 counts at 0.25 Hz). */
  wanderCounts?: number;
  wanderHz?: number;
  /** White noise SD in counts (default 3). */
  noiseSd?: number;
  /** ADC full scale (default 1023, a 10-bit ADC). */
  adcMax?: number;
}

const SYSTOLIC_S = 0.13;
const SYSTOLIC_SD_S = 0.045;
const DIASTOLIC_S = 0.36;
const DIASTOLIC_SD_S = 0.07;
const DIASTOLIC_GAIN = 0.4;
/** Pulses last this long at most (s, before compression); older beats no longer contribute. */
const PULSE_SPAN_S = 0.7;

export class PulseWaveform {
  private readonly baseline: number;
  private readonly amplitude: number;
  private readonly wanderCounts: number;
  private readonly wanderHz: number;
  private readonly noiseSd: number;
  private readonly adcMax: number;

  constructor(
    private readonly rng: Rng,
    opts: PulseWaveformOptions = {},
  ) {
    this.baseline = opts.baseline ?? 480;
    this.amplitude = opts.amplitude ?? 260;
    this.wanderCounts = opts.wanderCounts ?? 20;
    this.wanderHz = opts.wanderHz ?? 0.25;
    this.noiseSd = opts.noiseSd ?? 3;
    this.adcMax = opts.adcMax ?? 1023;
  }

  /**
   * ADC reading at tMs given the beats (ms, ascending) that may still contribute, each with the
   * interval to the beat after it (its pulse is compressed to fit).
   */
  value(tMs: number, beats: ReadonlyArray<{ atMs: number; ibiMs: number }>): number {
    let pulse = 0;
    for (const b of beats) {
      const scale = Math.min(1, b.ibiMs / 857);
      const tau = (tMs - b.atMs) / 1000 / scale;
      if (tau < -0.2 || tau > PULSE_SPAN_S) continue;
      pulse += gauss(tau, SYSTOLIC_S, SYSTOLIC_SD_S) + DIASTOLIC_GAIN * gauss(tau, DIASTOLIC_S, DIASTOLIC_SD_S);
    }
    const wander = this.wanderCounts * Math.sin((2 * Math.PI * this.wanderHz * tMs) / 1000);
    const v = this.baseline + this.amplitude * pulse + wander + this.noiseSd * this.rng.normal();
    return Math.max(0, Math.min(this.adcMax, Math.round(v)));
  }
}

function gauss(x: number, mu: number, sd: number): number {
  const z = (x - mu) / sd;
  return Math.exp(-0.5 * z * z);
}
