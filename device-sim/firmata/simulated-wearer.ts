/**
 * The two signals a Firmata board reads from a simulated wearer, driven by device-sim's
 * simulateTicks: a pulse sensor waveform whose beats follow the person's true heart rate, and a step
 * line that pulses once per step the wrist device counted. Pure and deterministic: simulated time in
 * (non-decreasing), levels out, and a record of the truth behind them for tests.
 *
 * - Beats: each interval is 60 000 / HR(t) at the previous beat, with respiratory sinus arrhythmia
 *   of `rsaDepth` (default 2%) at 0.25 Hz, so the median interval over a few breaths is the true HR.
 * - Steps: second i carries n_i = stepsTotal(i) − stepsTotal(i − 1) pulses, the k-th rising at
 *   i·1000 + (k + ½)·1000/n_i ms and high for min(100 ms, 40% of the spacing).
 * - Bounce (optional): a mechanical or reed step switch chatters, so one sample after every edge the
 *   line shows the old level again. A host that counts raw edges counts each step three times.
 */
import type { SimTick } from '../device.ts';
import { simulateTicks } from '../device.ts';
import type { SimOptions } from '../options.ts';
import { makeRng, type Rng } from '../rng.ts';
import type { UserProfile } from '../users.ts';
import { PulseWaveform, type PulseWaveformOptions } from './pulse-waveform.ts';

export interface SimulatedWearerOptions extends SimOptions {
  ppg?: PulseWaveformOptions;
  /** Relative beat-interval modulation by breathing (default 0.02). */
  rsaDepth?: number;
  /** Make the step line bounce for one sample after each edge (default false). */
  stepBounce?: boolean;
}

export interface WearerSample {
  /** Pulse sensor ADC counts. */
  ppg: number;
  /** Step line level. */
  step: 0 | 1;
}

export interface WearerTruth {
  /** True heart rate per simulated second. */
  hrBpm: number[];
  /** The wrist device's step counter at the end of each second (what the pulses add up to). */
  stepsTotal: number[];
  /** Beat times emitted so far, ms from the start. */
  beatsMs: number[];
  /** Step pulses whose rising edge has been sampled. */
  stepPulses: number;
}

const RSA_HZ = 0.25;

export class SimulatedWearer {
  readonly durationMs: number;
  readonly truth: WearerTruth = { hrBpm: [], stepsTotal: [], beatsMs: [], stepPulses: 0 };
  private readonly ticks: Iterator<SimTick, void>;
  private readonly waveform: PulseWaveform;
  private readonly rsaDepth: number;
  private readonly bounce: boolean;
  private readonly rsaPhase: number;
  private readonly initialSteps: number;
  /** Beats that may still shape the waveform, each with the interval to the next one. */
  private beats: Array<{ atMs: number; ibiMs: number }> = [];
  private nextBeatMs: number;
  /** Step pulse intervals [rise, fall) of the current and next second. */
  private pulses: Array<[number, number]> = [];
  private pulsesUpToSecond = -1;
  private lastT = -Infinity;
  private cleanLevel: 0 | 1 = 0;
  private bounceLeft = 0;

  constructor(
    readonly user: UserProfile,
    options: SimulatedWearerOptions,
  ) {
    const { ppg, rsaDepth, stepBounce, ...sim } = options;
    this.durationMs = sim.durationS * 1000;
    this.ticks = simulateTicks(user, sim)[Symbol.iterator]();
    const rng: Rng = makeRng(sim.seed, 'firmata-wearer', user.deviceId, user.seed, sim.startMs);
    this.waveform = new PulseWaveform(rng.fork('ppg'), ppg);
    this.rsaDepth = rsaDepth ?? 0.02;
    this.bounce = stepBounce ?? false;
    this.rsaPhase = rng.uniform(0, 2 * Math.PI);
    this.initialSteps = sim.initialSteps ?? 0;
    // First beat somewhere in the first interval, as a heart does not start with the simulation.
    this.nextBeatMs = rng.uniform(0, 60_000 / this.hrAt(0));
  }

  /** The signals at simulated time tMs (ms from the start; must not go backwards). */
  sample(tMs: number): WearerSample {
    if (tMs < this.lastT) throw new RangeError(`SimulatedWearer.sample: time went backwards (${tMs} < ${this.lastT})`);
    this.lastT = tMs;
    while (this.nextBeatMs <= tMs + 200) this.addBeat();
    this.beats = this.beats.filter((b) => tMs - b.atMs < 1500);
    const ppg = this.waveform.value(tMs, this.beats);
    return { ppg, step: this.stepLevel(tMs) };
  }

  /** True HR at tMs (the second it falls in; the last second after the end). */
  hrAt(tMs: number): number {
    const second = Math.min(Math.floor(tMs / 1000), Math.max(0, this.durationMs / 1000 - 1));
    this.simulateTo(second);
    return this.truth.hrBpm[second];
  }

  private addBeat(): void {
    const at = this.nextBeatMs;
    const rsa = 1 + this.rsaDepth * Math.sin((2 * Math.PI * RSA_HZ * at) / 1000 + this.rsaPhase);
    const ibi = (60_000 / this.hrAt(at)) * rsa;
    if (at <= this.durationMs) this.truth.beatsMs.push(at);
    this.beats.push({ atMs: at, ibiMs: ibi });
    this.nextBeatMs = at + ibi;
  }

  private stepLevel(tMs: number): 0 | 1 {
    const second = Math.floor(tMs / 1000);
    while (this.pulsesUpToSecond < second + 1) this.planPulses(++this.pulsesUpToSecond);
    while (this.pulses.length > 0 && this.pulses[0][1] <= tMs) this.pulses.shift();
    const p = this.pulses[0];
    const clean: 0 | 1 = p !== undefined && p[0] <= tMs ? 1 : 0;
    if (clean === 1 && this.cleanLevel === 0) this.truth.stepPulses++;
    let level = clean;
    if (clean !== this.cleanLevel) {
      this.cleanLevel = clean;
      this.bounceLeft = this.bounce ? 1 : 0;
    } else if (this.bounceLeft > 0) {
      // The sample right after an edge shows the old level: contact chatter.
      this.bounceLeft--;
      level = clean === 1 ? 0 : 1;
    }
    return level;
  }

  private planPulses(second: number): void {
    if (second * 1000 >= this.durationMs) return;
    this.simulateTo(second);
    const total = this.truth.stepsTotal[second];
    const before = second === 0 ? this.initialSteps : this.truth.stepsTotal[second - 1];
    const n = (total - before + 2 ** 32) % 2 ** 32;
    if (n === 0) return;
    const spacing = 1000 / n;
    const width = Math.min(100, 0.4 * spacing);
    for (let k = 0; k < n; k++) {
      const rise = second * 1000 + (k + 0.5) * spacing;
      this.pulses.push([rise, rise + width]);
    }
  }

  /** Runs the simulation up to and including `second`, keeping only the truth the signals need. */
  private simulateTo(second: number): void {
    while (this.truth.hrBpm.length <= second) {
      const next = this.ticks.next();
      if (next.done) throw new RangeError(`SimulatedWearer: second ${second} is past the simulated ${this.durationMs / 1000} s`);
      this.truth.hrBpm.push(next.value.truth.hrBpm);
      this.truth.stepsTotal.push(next.value.reading.stepsTotal);
    }
  }
}
