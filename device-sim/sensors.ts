/**
 * What a wrist device measures from the true physiology: optical HR with noise, cadence lock and
 * dropouts; RR intervals with heart-rate variability; a biased step counter.
 *
 * Sensor behaviour follows the notes' summary of Shcherbina et al. (2017, J Pers Med 7(2):3): a few
 * percent HR error at rest, larger and pulled toward cadence in motion, dropouts in vigorous arm
 * movement; step counters over-count arm gestures and under-count slow walking.
 */
import { isStepping, type ActivityKind } from './activities.ts';
import type { TruthSample } from './physiology.ts';
import type { Rng } from './rng.ts';
import type { UserProfile } from './users.ts';

interface MotionProfile {
  /** Multiplier on the device's PPG noise SD. */
  noiseGain: number;
  /** Multiplier on the device's dropout rate. */
  dropoutGain: number;
  /** Points off the reported confidence. */
  confidencePenalty: number;
  /** Steps counted per minute from arm gestures when not stepping. */
  spuriousSpm: number;
}

const MOTION: Readonly<Record<ActivityKind, MotionProfile>> = {
  sleep: { noiseGain: 0.4, dropoutGain: 0.5, confidencePenalty: 0, spuriousSpm: 0 },
  rest: { noiseGain: 0.5, dropoutGain: 1, confidencePenalty: 0, spuriousSpm: 0.2 },
  desk: { noiseGain: 0.6, dropoutGain: 1, confidencePenalty: 2, spuriousSpm: 0.8 },
  walking: { noiseGain: 1, dropoutGain: 1.5, confidencePenalty: 8, spuriousSpm: 0 },
  running: { noiseGain: 1.6, dropoutGain: 3, confidencePenalty: 20, spuriousSpm: 0 },
  cycling: { noiseGain: 0.8, dropoutGain: 1.5, confidencePenalty: 5, spuriousSpm: 1.5 },
  stairs: { noiseGain: 1.2, dropoutGain: 2, confidencePenalty: 12, spuriousSpm: 0 },
  strength: { noiseGain: 1.6, dropoutGain: 3, confidencePenalty: 20, spuriousSpm: 4 },
};

/** Effective dropout rate for an activity (fraction of seconds), from the device's base rate. */
export function dropoutRateFor(user: UserProfile, activity: ActivityKind): number {
  return Math.min(0.5, user.device.dropoutRate * MOTION[activity].dropoutGain);
}

/** The optical error is autocorrelated (devices smooth over several seconds): AR(1) with this coefficient. */
const PPG_ERROR_AR = 0.9;
const CADENCE_LOCK_MEAN_S = 30;
/** Slow walking (under ~80 steps/min) is under-counted. */
const SLOW_CADENCE_SPM = 80;
const SLOW_COUNT_FACTOR = 0.75;
/** PPG beat-timing jitter on each reported RR interval, ms. */
const RR_JITTER_MS = 4;

export interface WristReading {
  /** Reported bpm (0 during dropout), 0.1 resolution. */
  bpm: number;
  /** 0..100; 0 during dropout. */
  confidence: number;
  dropout: boolean;
  cadenceLocked: boolean;
  /** Device's cumulative step count (uint32, wraps). */
  stepsTotal: number;
  /** RR intervals (ms) whose closing beat fell in this second and was detected. */
  rrMs: number[];
}

export class WristSensor {
  private ppgError = 0;
  private dropout = false;
  private locked = false;
  private stepsAcc = 0;
  private prevBeatMs = NaN;
  private prevBeatSeen = false;
  private nextBeatMs = NaN;
  private readonly respPhase: number;

  constructor(
    private readonly user: UserProfile,
    private readonly rng: Rng,
    private readonly initialSteps: number,
  ) {
    this.respPhase = rng.uniform(0, 2 * Math.PI);
  }

  step(second: number, truth: TruthSample): WristReading {
    const dev = this.user.device;
    const motion = MOTION[truth.activity];
    const rng = this.rng;

    // Dropout: a two-state Markov chain whose stationary share of dropped seconds is the rate r,
    // with mean episode length L: P(exit) = 1/L, P(enter) = r/(L(1 − r)).
    const r = dropoutRateFor(this.user, truth.activity);
    const exit = 1 / dev.dropoutMeanS;
    this.dropout = this.dropout ? !rng.bernoulli(exit) : rng.bernoulli((r * exit) / (1 - r));

    const stepping = isStepping(truth.activity) && truth.cadenceSpm > 0;
    if (!stepping) this.locked = false;
    else this.locked = this.locked ? !rng.bernoulli(1 / CADENCE_LOCK_MEAN_S) : rng.bernoulli(dev.cadenceLockPerHour / 3600);

    const sd = dev.ppgNoiseSdBpm * motion.noiseGain;
    this.ppgError = PPG_ERROR_AR * this.ppgError + Math.sqrt(1 - PPG_ERROR_AR ** 2) * sd * rng.normal();

    let bpm = 0;
    let confidence = 0;
    if (!this.dropout) {
      bpm = this.locked ? truth.cadenceSpm * (1 + 0.01 * rng.normal()) : truth.hrBpm + this.ppgError;
      bpm = Math.round(Math.min(250, Math.max(25, bpm)) * 10) / 10;
      const penalty = motion.confidencePenalty + (this.locked ? 15 : 0);
      confidence = Math.round(Math.min(100, Math.max(5, 96 - penalty + rng.normal(0, 4))));
    }

    if (stepping) {
      const slow = truth.cadenceSpm < SLOW_CADENCE_SPM ? SLOW_COUNT_FACTOR : 1;
      this.stepsAcc += (truth.cadenceSpm / 60) * dev.stepBias * slow;
    } else if (motion.spuriousSpm > 0) {
      this.stepsAcc += (motion.spuriousSpm / 60) * 2 * rng.float();
    }
    const stepsTotal = (this.initialSteps + Math.floor(this.stepsAcc)) % 2 ** 32;

    return {
      bpm,
      confidence,
      dropout: this.dropout,
      cadenceLocked: this.locked && !this.dropout,
      stepsTotal,
      rrMs: this.beats(second, truth),
    };
  }

  /**
   * Beats of this second. Each beat-to-beat interval is 60000/HR plus respiratory sinus arrhythmia
   * (a sine at the breathing rate) and white jitter, both scaled from the user's resting RMSSD and
   * shrinking with effort, as vagal tone withdraws. A beat during a dropout is not detected, and an
   * interval is reported only when both of its beats were.
   */
  private beats(second: number, truth: TruthSample): number[] {
    const out: number[] = [];
    const endMs = (second + 1) * 1000;
    const effort = Math.min(1, Math.max(0, truth.vo2rFraction));
    if (Number.isNaN(this.nextBeatMs)) this.nextBeatMs = second * 1000 + this.rng.uniform(0, 60000 / truth.hrBpm);
    const seen = !this.dropout;
    while (this.nextBeatMs < endMs) {
      const beat = this.nextBeatMs;
      if (!Number.isNaN(this.prevBeatMs) && seen && this.prevBeatSeen) {
        const measured = Math.round(beat - this.prevBeatMs + RR_JITTER_MS * this.rng.normal());
        out.push(Math.min(3000, Math.max(200, measured)));
      }
      this.prevBeatMs = beat;
      this.prevBeatSeen = seen;
      const hrvScale = Math.max(0.05, (1 - effort) ** 2);
      const rmssd = this.user.rmssdRestMs * hrvScale;
      const respHz = 0.25 + 0.25 * effort;
      const rsa = 0.7 * rmssd * Math.sin(2 * Math.PI * respHz * (beat / 1000) + this.respPhase);
      const rr = 60000 / truth.hrBpm + rsa + 0.5 * rmssd * this.rng.normal();
      this.nextBeatMs = beat + Math.min(2500, Math.max(250, rr));
    }
    return out;
  }
}
