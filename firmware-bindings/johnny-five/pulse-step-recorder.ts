/**
 * A pulse sensor and a step line, sampled on one clock, as the records the wire protocol carries.
 * Pure: samples in (with their times on the sample clock), DeviceRecords out, each with the device
 * id, the next sequence number and a timestamp of startMs plus the sample time.
 *
 * Every `heartRateEveryMs` (1 s) a heartRate record: 60 000 / median of the last 7 accepted beat
 * intervals, confidence from their spread (100 − 400 × MAD/median, at least 5), or bpm 0 with
 * confidence 0 (the wire's "no contact") when fewer than 3 intervals are known or no beat came for
 * `staleAfterMs`. Every `rrEveryMs` (5 s) the accepted intervals since the last one, rounded to ms.
 * Every `stepsEveryMs` (1 s) the cumulative step count. This is the cadence device-sim's wrist
 * device reports at, so the gateway sees the same shape of stream from either.
 */
import type { DeviceRecord } from '../records.ts';
import { MAX_MODEL_BYTES, MAX_RR_INTERVALS } from '../layout.ts';
import { BeatDetector, median, type BeatDetectorOptions } from './beat-detector.ts';
import { StepCounter, type StepCounterOptions } from './step-counter.ts';

export interface PulseStepRecorderOptions {
  deviceId: number;
  /** Wall-clock ms of sample time 0. */
  startMs: number;
  firstSeq?: number;
  heartRateEveryMs?: number;
  rrEveryMs?: number;
  stepsEveryMs?: number;
  /** Report no heart rate when the last beat is older than this (default 3000 ms). */
  staleAfterMs?: number;
  beats?: BeatDetectorOptions;
  steps?: StepCounterOptions;
}

export interface PulseStepRecorderStats {
  pulseSamples: number;
  /** Samples refused: not a finite number in the ADC's range. */
  badSamples: number;
  records: number;
}

export class PulseStepRecorder {
  readonly beats: BeatDetector;
  readonly steps: StepCounter;
  readonly stats: PulseStepRecorderStats = { pulseSamples: 0, badSamples: 0, records: 0 };
  readonly deviceId: number;
  private readonly startMs: number;
  private seq: number;
  private readonly hrEvery: number;
  private readonly rrEvery: number;
  private readonly stepsEvery: number;
  private readonly staleAfter: number;
  private nextHr: number;
  private nextRr: number;
  private nextSteps: number;
  private pendingRr: number[] = [];

  constructor(opts: PulseStepRecorderOptions) {
    if (!Number.isInteger(opts.deviceId) || opts.deviceId < 0 || opts.deviceId > 0xffffffff) {
      throw new RangeError(`deviceId must be a uint32, got ${opts.deviceId}`);
    }
    if (!Number.isFinite(opts.startMs) || opts.startMs < 0) throw new RangeError(`startMs must be a time in ms, got ${opts.startMs}`);
    this.deviceId = opts.deviceId;
    this.startMs = opts.startMs;
    this.seq = opts.firstSeq ?? 0;
    this.hrEvery = opts.heartRateEveryMs ?? 1000;
    this.rrEvery = opts.rrEveryMs ?? 5000;
    this.stepsEvery = opts.stepsEveryMs ?? 1000;
    this.staleAfter = opts.staleAfterMs ?? 3000;
    this.nextHr = this.hrEvery;
    this.nextRr = this.rrEvery;
    this.nextSteps = this.stepsEvery;
    this.beats = new BeatDetector(opts.beats);
    this.steps = new StepCounter(opts.steps);
  }

  /** A deviceInfo record (e.g. from the board's REPORT_FIRMWARE) at sample time tMs. */
  deviceInfo(firmware: [number, number, number], model: string, tMs = 0): DeviceRecord {
    let m = model;
    while (Buffer.byteLength(m, 'utf8') > MAX_MODEL_BYTES) m = m.slice(0, -1);
    return this.count({ type: 'deviceInfo', ...this.header(tMs), firmware, hardwareRevision: 0, model: m });
  }

  /** The step line read `level` at sample time tMs. */
  stepLevel(level: number, tMs: number): void {
    this.steps.level(level ? 1 : 0, tMs);
  }

  /** One pulse-sensor sample at sample time tMs; returns the records now due. */
  pulseSample(value: number, tMs: number): DeviceRecord[] {
    this.steps.advance(tMs);
    if (!Number.isFinite(value) || value < 0 || value > 0xffff) {
      this.stats.badSamples++;
    } else {
      this.stats.pulseSamples++;
      const beat = this.beats.push(value, tMs);
      if (beat?.ibiMs !== undefined) this.pendingRr.push(Math.min(0xffff, Math.round(beat.ibiMs)));
    }
    const out: DeviceRecord[] = [];
    if (tMs >= this.nextHr) {
      out.push(this.heartRate(tMs));
      this.nextHr = nextBoundary(this.nextHr, this.hrEvery, tMs);
    }
    if (tMs >= this.nextRr) {
      for (let k = 0; k < this.pendingRr.length; k += MAX_RR_INTERVALS) {
        out.push({ type: 'rrIntervals', ...this.header(tMs), intervalsMs: this.pendingRr.slice(k, k + MAX_RR_INTERVALS) });
      }
      this.pendingRr = [];
      this.nextRr = nextBoundary(this.nextRr, this.rrEvery, tMs);
    }
    if (tMs >= this.nextSteps) {
      out.push({ type: 'steps', ...this.header(tMs), total: this.steps.count });
      this.nextSteps = nextBoundary(this.nextSteps, this.stepsEvery, tMs);
    }
    this.stats.records += out.length;
    return out;
  }

  private heartRate(tMs: number): DeviceRecord {
    const ibis = this.beats.recentIbis;
    const fresh = tMs - this.beats.lastBeatAtMs <= this.staleAfter;
    if (ibis.length < 3 || !fresh) return { type: 'heartRate', ...this.header(tMs), bpm: 0, confidence: 0 };
    const med = median(ibis);
    const mad = median(ibis.map((x) => Math.abs(x - med)));
    const confidence = Math.max(5, Math.min(100, Math.round(100 - (400 * mad) / med)));
    return { type: 'heartRate', ...this.header(tMs), bpm: Math.round(600_000 / med) / 10, confidence };
  }

  private count(r: DeviceRecord): DeviceRecord {
    this.stats.records++;
    return r;
  }

  private header(tMs: number): { deviceId: number; seq: number; timestampMs: number } {
    const seq = this.seq;
    this.seq = seq === 0xffffffff ? 0 : seq + 1;
    return { deviceId: this.deviceId, seq, timestampMs: Math.round(this.startMs + tMs) };
  }
}

/** The first multiple of `every` after tMs (skipping boundaries a gap in the samples jumped over). */
function nextBoundary(current: number, every: number, tMs: number): number {
  return current + every * (Math.floor((tMs - current) / every) + 1);
}
