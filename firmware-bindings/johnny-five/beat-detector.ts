/**
 * Heartbeats from a pulse-sensor (PPG) waveform sampled at a fixed rate. Pure: samples in, beats out.
 *
 * The method is the adaptive threshold of the PulseSensor Amped firmware (World Famous Electronics,
 * "PulseSensor Playground", interrupt-driven beat finder), with two changes for low sample rates:
 * - the beat instant is where the signal crosses the threshold on the way up, interpolated between
 *   the two samples around it, so 50 Hz sampling times beats to a few ms instead of 20;
 * - intervals are checked for plausibility before anyone uses them (range, and distance from the
 *   recent median), so a missed or doubled beat does not move the heart rate.
 *
 * Per sample: track the peak above and the trough below the threshold; a beat is an upward crossing
 * at least `refractory` after the previous one (60% of the last interval, and never under 250 ms: the
 * dicrotic wave of the same pulse must not count). When the pulse falls back under the threshold, the
 * threshold moves to the middle of that pulse's peak and trough. After 2.5 s without a beat the
 * detector starts over (sensor off the skin, or the signal lost).
 */

export interface BeatDetectorOptions {
  /** Shortest and longest plausible beat interval (default 250 ms, 2000 ms: 240 to 30 bpm). */
  minIbiMs?: number;
  maxIbiMs?: number;
  /** An interval further than this fraction from the recent median is refused (default 0.3). */
  maxIbiDeviation?: number;
  /** Start over after this long without a beat (default 2500 ms). */
  resetAfterMs?: number;
}

export interface Beat {
  /** Interpolated instant of the upward threshold crossing, in the caller's time base. */
  atMs: number;
  /** Interval since the previous beat when it was accepted; undefined for the first beat after a (re)start or a refused interval. */
  ibiMs?: number;
}

export interface BeatDetectorStats {
  samples: number;
  beats: number;
  ibisAccepted: number;
  /** Intervals outside min/max, or too far from the recent median. */
  ibisRefused: number;
  /** Times the detector started over after losing the signal. */
  resets: number;
}

const MEDIAN_WINDOW = 7;

export class BeatDetector {
  readonly stats: BeatDetectorStats = { samples: 0, beats: 0, ibisAccepted: 0, ibisRefused: 0, resets: 0 };
  private readonly minIbi: number;
  private readonly maxIbi: number;
  private readonly maxDeviation: number;
  private readonly resetAfter: number;
  private threshold = NaN;
  private peak = -Infinity;
  private trough = Infinity;
  private inPulse = false;
  private lastBeatMs = NaN;
  private lastIbi = 600;
  private prevValue = NaN;
  private prevT = NaN;
  private recent: number[] = [];
  private refusedInARow = 0;
  /** Range seen since the last (re)start, to place the first threshold. */
  private seenMin = Infinity;
  private seenMax = -Infinity;
  private startMs = NaN;

  constructor(opts: BeatDetectorOptions = {}) {
    this.minIbi = opts.minIbiMs ?? 250;
    this.maxIbi = opts.maxIbiMs ?? 2000;
    this.maxDeviation = opts.maxIbiDeviation ?? 0.3;
    this.resetAfter = opts.resetAfterMs ?? 2500;
  }

  /** Feeds one sample; returns the beat it completed, if any. */
  push(value: number, tMs: number): Beat | undefined {
    this.stats.samples++;
    if (Number.isNaN(this.startMs)) this.startMs = tMs;
    let beat: Beat | undefined;
    if (Number.isNaN(this.threshold)) {
      // Learn the signal's range for one max interval before trusting any threshold.
      this.seenMin = Math.min(this.seenMin, value);
      this.seenMax = Math.max(this.seenMax, value);
      if (tMs - this.startMs >= this.maxIbi && this.seenMax - this.seenMin > 0) {
        this.threshold = (this.seenMin + this.seenMax) / 2;
      }
    } else {
      const since = Number.isNaN(this.lastBeatMs) ? Infinity : tMs - this.lastBeatMs;
      const refractory = Math.max(this.minIbi, 0.6 * this.lastIbi);
      if (value < this.threshold && since > refractory && value < this.trough) this.trough = value;
      if (value > this.threshold && value > this.peak) this.peak = value;
      if (!this.inPulse && value >= this.threshold && this.prevValue < this.threshold && since > refractory) {
        this.inPulse = true;
        const at = this.prevT + ((tMs - this.prevT) * (this.threshold - this.prevValue)) / (value - this.prevValue);
        beat = this.beatAt(at);
      }
      if (this.inPulse && value < this.threshold) {
        this.inPulse = false;
        if (this.peak > this.trough) this.threshold = (this.peak + this.trough) / 2;
        this.peak = this.threshold;
        this.trough = this.threshold;
      }
      // Silence since the last beat (or, before the first, since the threshold was set) means the signal is gone.
      const quiet = Number.isNaN(this.lastBeatMs) ? tMs - this.startMs - this.maxIbi : tMs - this.lastBeatMs;
      if (quiet > this.resetAfter) this.restart(tMs);
    }
    this.prevValue = value;
    this.prevT = tMs;
    return beat;
  }

  /** Accepted intervals, most recent last (at most 7): the window the heart rate comes from. */
  get recentIbis(): readonly number[] {
    return this.recent;
  }

  get lastBeatAtMs(): number {
    return this.lastBeatMs;
  }

  private beatAt(at: number): Beat {
    this.stats.beats++;
    const prev = this.lastBeatMs;
    this.lastBeatMs = at;
    if (Number.isNaN(prev)) return { atMs: at };
    const ibi = at - prev;
    const med = median(this.recent);
    const plausible =
      ibi >= this.minIbi && ibi <= this.maxIbi && (this.recent.length < 3 || Math.abs(ibi - med) <= this.maxDeviation * med);
    if (!plausible) {
      this.stats.ibisRefused++;
      // Three refusals in a row mean the rate really changed (or the history was wrong): start afresh.
      if (++this.refusedInARow >= 3) this.recent = [];
      return { atMs: at };
    }
    this.refusedInARow = 0;
    this.lastIbi = ibi;
    this.recent.push(ibi);
    if (this.recent.length > MEDIAN_WINDOW) this.recent.shift();
    this.stats.ibisAccepted++;
    return { atMs: at, ibiMs: ibi };
  }

  private restart(tMs: number): void {
    this.stats.resets++;
    this.threshold = NaN;
    this.peak = -Infinity;
    this.trough = Infinity;
    this.inPulse = false;
    this.lastBeatMs = NaN;
    this.recent = [];
    this.refusedInARow = 0;
    this.seenMin = Infinity;
    this.seenMax = -Infinity;
    this.startMs = tMs;
  }
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
