/**
 * The model's input: one window of wearable records (heart rate, RR intervals, cumulative steps) plus
 * the wearer's profile → a fixed-length Float32Array. The gateway (live inference, fine-tuning) and
 * evaluation both go through `windowStats` + `featuresFromStats`, so the model sees the same numbers
 * everywhere.
 *
 * Two stages, because they change at different rates: `windowStats` summarises the signals of a time
 * range and knows nothing about the person; `featuresFromStats` combines those summaries with the
 * profile (whose resting HR estimate improves as history accumulates, without re-reading records).
 *
 * Record timing (firmware-bindings/records.ts, device-sim/device.ts): a record describes the past,
 * so a record stamped ts belongs to window [start, end) when start < ts ≤ end.
 */
import type { DeviceRecord } from '../firmware-bindings/index.ts';

export type Sex = 'female' | 'male';

/** Feature order of the model input (the manifest's `features.names`). */
export const FEATURE_NAMES = [
  'hrMeanBpm',
  'hrAboveRestBpm',
  'hrReserveFraction',
  'hrSdBpm',
  'cadenceSpm',
  'cadenceSdSpm',
  'lnRmssdMs',
  'hrValidFraction',
  'ageY',
  'weightKg',
  'heightCm',
  'sexMale',
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];
export const FEATURE_COUNT = FEATURE_NAMES.length;
/** Column of each feature in a feature row. */
export const FEATURE_INDEX: Readonly<Record<FeatureName, number>> = Object.fromEntries(
  FEATURE_NAMES.map((n, i) => [n, i]),
) as Record<FeatureName, number>;

/** Optical HR arrives once a second (wire-format.md); valid fraction = valid readings / window seconds. */
export const HR_SAMPLE_RATE_HZ = 1;
/** Readings outside this range are sensor artefacts, not heart rates. */
export const HR_PLAUSIBLE_BPM: readonly [number, number] = [25, 240];
/** Below this share of valid HR seconds the HR features are imputed (a few seconds of PPG are mostly noise). */
export const MIN_HR_VALID_FRACTION = 0.25;
/** RR intervals outside 300–2000 ms (HR 30–200) are treated as missed or extra beats. */
export const RR_PLAUSIBLE_MS: readonly [number, number] = [300, 2000];
/**
 * A successive difference larger than 20% of the preceding interval is taken as an artefact (ectopic
 * or missed beat), the usual percentage filter in HRV preprocessing.
 */
export const RR_ARTEFACT_FRACTION = 0.2;
/** RMSSD needs at least this many clean successive differences, else it is imputed. */
export const MIN_RR_DIFFS = 5;
/**
 * Imputed RMSSD when a window has too few clean beats: 42 ms, the mean of short-term RMSSD in healthy
 * adults (Nunan, Sandercock, Brodie 2010, Pacing Clin Electrophysiol 33:1407–1417: 42 ± 15 ms).
 */
export const DEFAULT_RMSSD_MS = 42;
/** Cadence spread is the SD of cadence over blocks of this length inside the window. */
export const CADENCE_BLOCK_S = 10;
/** Consecutive step records further apart than this are a gap (device off), not a slow count. */
export const MAX_STEPS_GAP_S = 60;
/** Faster apparent stepping than this is a counter reset or wrap glitch, not steps. */
export const MAX_CADENCE_SPM = 300;
/** Resting HR when neither the profile nor enough history gives one (notes: typically 50–80 bpm). */
export const DEFAULT_RESTING_HR_BPM = 70;

/** What the gateway knows about its wearer. Resting and maximal HR are optional: estimated if absent. */
export interface FeatureProfile {
  readonly sex: Sex;
  readonly ageY: number;
  readonly weightKg: number;
  readonly heightCm: number;
  readonly restingHrBpm?: number;
  readonly hrMaxBpm?: number;
}

export type ValueSource = 'given' | 'estimated' | 'default';

export interface ResolvedProfile {
  readonly sex: Sex;
  readonly ageY: number;
  readonly weightKg: number;
  readonly heightCm: number;
  readonly restingHrBpm: number;
  readonly hrMaxBpm: number;
  readonly restingHrSource: ValueSource;
  readonly hrMaxSource: 'given' | 'tanaka';
}

/** Maximal heart rate, Tanaka, Monahan, Seals (2001), J Am Coll Cardiol 37:153–156: 208 − 0.7·age. */
export function tanakaHrMax(ageY: number): number {
  return 208 - 0.7 * ageY;
}

/**
 * Fills resting HR (given → `restingHrEstimate` from the wearer's history → DEFAULT_RESTING_HR_BPM) and
 * HRmax (given → Tanaka). Throws naming the field on a missing or implausible value.
 */
export function resolveProfile(profile: FeatureProfile, restingHrEstimate?: number | null): ResolvedProfile {
  const need = (name: keyof FeatureProfile, v: unknown, lo: number, hi: number): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) {
      throw new RangeError(`profile.${name} must be a number in [${lo}, ${hi}], got ${String(v)}`);
    }
    return v;
  };
  if (profile.sex !== 'female' && profile.sex !== 'male') throw new RangeError(`profile.sex must be "female" or "male", got ${String(profile.sex)}`);
  const ageY = need('ageY', profile.ageY, 5, 120);
  const weightKg = need('weightKg', profile.weightKg, 20, 400);
  const heightCm = need('heightCm', profile.heightCm, 100, 250);
  let restingHrBpm: number;
  let restingHrSource: ValueSource;
  if (profile.restingHrBpm !== undefined) {
    restingHrBpm = need('restingHrBpm', profile.restingHrBpm, 25, 130);
    restingHrSource = 'given';
  } else if (restingHrEstimate !== undefined && restingHrEstimate !== null && Number.isFinite(restingHrEstimate)) {
    restingHrBpm = restingHrEstimate;
    restingHrSource = 'estimated';
  } else {
    restingHrBpm = DEFAULT_RESTING_HR_BPM;
    restingHrSource = 'default';
  }
  const hrMaxGiven = profile.hrMaxBpm !== undefined;
  const hrMaxBpm = hrMaxGiven ? need('hrMaxBpm', profile.hrMaxBpm, 80, 250) : tanakaHrMax(ageY);
  return { sex: profile.sex, ageY, weightKg, heightCm, restingHrBpm, hrMaxBpm, restingHrSource, hrMaxSource: hrMaxGiven ? 'given' : 'tanaka' };
}

/** Person-independent summary of one time range of records. `null` fields were not measurable. */
export interface WindowStats {
  readonly startMs: number;
  readonly endMs: number;
  readonly durationS: number;
  /** Heart-rate records in the range, valid or not. */
  readonly hrRecords: number;
  /** Valid readings (confidence > 0, plausible bpm). */
  readonly hrValid: number;
  /** hrValid / (durationS · HR_SAMPLE_RATE_HZ), at most 1. */
  readonly hrValidFraction: number;
  readonly hrMeanBpm: number | null;
  /** Population SD of the valid readings. */
  readonly hrSdBpm: number | null;
  readonly rmssdMs: number | null;
  readonly rrDiffs: number;
  /** Steps per minute over the part of the range the step counter covers. */
  readonly cadenceSpm: number | null;
  readonly cadenceSdSpm: number | null;
  /** Share of the range covered by consecutive step records. */
  readonly stepsCoverage: number;
}

export interface TimeRange {
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * Summarises the records of [startMs, endMs). `records` may hold records outside the range (they are
 * ignored), and should hold the last steps record at or before startMs so the count has a baseline.
 * Returns null for an empty window: no heart-rate record and no step-counter coverage.
 */
export function windowStats(records: readonly DeviceRecord[], range: TimeRange): WindowStats | null {
  const { startMs, endMs } = range;
  if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || !(endMs > startMs)) {
    throw new RangeError(`window range must have finite startMs < endMs, got [${startMs}, ${endMs})`);
  }
  const durationS = (endMs - startMs) / 1000;

  let hrRecords = 0;
  let hrValid = 0;
  let hrSum = 0;
  let hrSq = 0;
  let rrSq = 0;
  let rrDiffs = 0;
  // The last step sample at or before the start is the baseline; then every sample in range.
  let baseT = -Infinity;
  let baseC = 0;
  const inRange: Array<readonly [number, number]> = [];
  let ordered = true;
  for (const r of records) {
    const ts = r.timestampMs;
    if (r.type === 'steps') {
      if (ts <= startMs) {
        if (ts >= baseT) {
          baseT = ts;
          baseC = r.total;
        }
      } else if (ts <= endMs) {
        if (inRange.length > 0 && ts < inRange[inRange.length - 1][0]) ordered = false;
        inRange.push([ts, r.total]);
      }
      continue;
    }
    if (ts <= startMs || ts > endMs) continue;
    if (r.type === 'heartRate') {
      hrRecords++;
      if (r.confidence > 0 && r.bpm >= HR_PLAUSIBLE_BPM[0] && r.bpm <= HR_PLAUSIBLE_BPM[1]) {
        hrValid++;
        hrSum += r.bpm;
        hrSq += r.bpm * r.bpm;
      }
    } else if (r.type === 'rrIntervals') {
      // Successive differences only inside one record: across records a beat may have been missed.
      const iv = r.intervalsMs;
      for (let k = 1; k < iv.length; k++) {
        const a = iv[k - 1];
        const b = iv[k];
        if (a < RR_PLAUSIBLE_MS[0] || a > RR_PLAUSIBLE_MS[1] || b < RR_PLAUSIBLE_MS[0] || b > RR_PLAUSIBLE_MS[1]) continue;
        const d = b - a;
        if (Math.abs(d) > RR_ARTEFACT_FRACTION * a) continue;
        rrSq += d * d;
        rrDiffs++;
      }
    }
  }

  if (!ordered) inRange.sort((a, b) => a[0] - b[0]);
  const stepT = baseT > -Infinity ? [baseT] : [];
  const stepC = baseT > -Infinity ? [baseC] : [];
  for (const [t, c] of inRange) {
    stepT.push(t);
    stepC.push(c);
  }
  const steps = stepCadence(stepT, stepC, startMs, endMs);
  if (hrRecords === 0 && steps.coveredMs === 0) return null;

  const hrMeanBpm = hrValid > 0 ? hrSum / hrValid : null;
  const hrSdBpm = hrMeanBpm === null ? null : Math.sqrt(Math.max(0, hrSq / hrValid - hrMeanBpm * hrMeanBpm));
  return {
    startMs,
    endMs,
    durationS,
    hrRecords,
    hrValid,
    hrValidFraction: Math.min(1, hrValid / (durationS * HR_SAMPLE_RATE_HZ)),
    hrMeanBpm,
    hrSdBpm,
    // RMSSD: root mean square of successive RR differences (Task Force of the ESC and NASPE 1996,
    // Circulation 93:1043–1065).
    rmssdMs: rrDiffs >= MIN_RR_DIFFS ? Math.sqrt(rrSq / rrDiffs) : null,
    rrDiffs,
    cadenceSpm: steps.coveredMs > 0 ? steps.cadenceSpm : null,
    cadenceSdSpm: steps.coveredMs > 0 ? steps.cadenceSdSpm : null,
    stepsCoverage: steps.coveredMs / (endMs - startMs),
  };
}

interface StepCadence {
  coveredMs: number;
  cadenceSpm: number;
  cadenceSdSpm: number;
}

/**
 * Cadence from a cumulative (uint32, wrapping) step count sampled at stepT: the count is taken as
 * linear between samples, so each segment's steps are shared out over the window and over the
 * CADENCE_BLOCK_S blocks by time overlap. Segments longer than MAX_STEPS_GAP_S, or implying more than
 * MAX_CADENCE_SPM (a reset), are left out of both steps and covered time.
 */
function stepCadence(stepT: readonly number[], stepC: readonly number[], startMs: number, endMs: number): StepCadence {
  const blockMs = CADENCE_BLOCK_S * 1000;
  const nBlocks = Math.max(1, Math.ceil((endMs - startMs) / blockMs));
  const blockSteps = new Float64Array(nBlocks);
  const blockCovered = new Float64Array(nBlocks);
  let steps = 0;
  let covered = 0;
  for (let k = 1; k < stepT.length; k++) {
    const t0 = stepT[k - 1];
    const t1 = stepT[k];
    const dt = t1 - t0;
    if (!(dt > 0) || dt > MAX_STEPS_GAP_S * 1000) continue;
    const dSteps = (stepC[k] - stepC[k - 1]) >>> 0;
    if (dSteps > (MAX_CADENCE_SPM * dt) / 60_000) continue;
    const rate = dSteps / dt;
    const a = Math.max(t0, startMs);
    const b = Math.min(t1, endMs);
    if (b <= a) continue;
    steps += rate * (b - a);
    covered += b - a;
    for (let j = Math.floor((a - startMs) / blockMs); j < nBlocks; j++) {
      const bs = startMs + j * blockMs;
      const be = Math.min(bs + blockMs, endMs);
      if (bs >= b) break;
      const o = Math.min(b, be) - Math.max(a, bs);
      if (o > 0) {
        blockSteps[j] += rate * o;
        blockCovered[j] += o;
      }
    }
  }
  if (covered === 0) return { coveredMs: 0, cadenceSpm: 0, cadenceSdSpm: 0 };
  // Spread over blocks that are at least half covered (a sliver of a block is all quantisation).
  let n = 0;
  let s = 0;
  let sq = 0;
  for (let j = 0; j < nBlocks; j++) {
    const bs = startMs + j * blockMs;
    const len = Math.min(bs + blockMs, endMs) - bs;
    if (blockCovered[j] < 0.5 * len) continue;
    const c = (blockSteps[j] / blockCovered[j]) * 60_000;
    n++;
    s += c;
    sq += c * c;
  }
  const sd = n >= 2 ? Math.sqrt(Math.max(0, sq / n - (s / n) ** 2)) : 0;
  return { coveredMs: covered, cadenceSpm: (steps / covered) * 60_000, cadenceSdSpm: sd };
}

/** Denominator floor for the HR-reserve fraction, so a bad HRmax cannot blow the feature up. */
const MIN_HR_RESERVE_BPM = 20;

/**
 * The feature row (FEATURE_NAMES order) for one window's stats and the wearer's resolved profile.
 * When fewer than MIN_HR_VALID_FRACTION of the seconds have a valid HR, the HR features are imputed
 * as "at rest" (HR = resting HR, no spread, RMSSD = DEFAULT_RMSSD_MS) and `hrValidFraction` tells the
 * model it was; missing cadence (no step counter coverage) is 0 steps/min.
 */
export function featuresFromStats(stats: WindowStats, profile: ResolvedProfile, out: Float32Array = new Float32Array(FEATURE_COUNT), offset = 0): Float32Array {
  const hrOk = stats.hrMeanBpm !== null && stats.hrValidFraction >= MIN_HR_VALID_FRACTION;
  const rest = profile.restingHrBpm;
  const hr = hrOk ? (stats.hrMeanBpm as number) : rest;
  const reserve = Math.max(MIN_HR_RESERVE_BPM, profile.hrMaxBpm - rest);
  const rmssd = hrOk && stats.rmssdMs !== null ? stats.rmssdMs : DEFAULT_RMSSD_MS;
  out[offset + 0] = hr;
  out[offset + 1] = hr - rest;
  // Karvonen heart-rate reserve; %HRR tracks %VO2 reserve (Swain & Leutholtz 1997, Med Sci Sports
  // Exerc 29(3):410–414), which is what makes it a better effort signal than HR itself.
  out[offset + 2] = (hr - rest) / reserve;
  out[offset + 3] = hrOk ? (stats.hrSdBpm as number) : 0;
  out[offset + 4] = stats.cadenceSpm ?? 0;
  out[offset + 5] = stats.cadenceSdSpm ?? 0;
  // ln RMSSD: RMSSD is right-skewed between people and with effort; its log is near normal.
  out[offset + 6] = Math.log(Math.max(1, rmssd));
  out[offset + 7] = stats.hrValidFraction;
  out[offset + 8] = profile.ageY;
  out[offset + 9] = profile.weightKg;
  out[offset + 10] = profile.heightCm;
  out[offset + 11] = profile.sex === 'male' ? 1 : 0;
  return out;
}

/** Features of one window, or null if the window is empty. */
export interface WindowFeatures {
  readonly stats: WindowStats;
  readonly features: Float32Array;
}

/**
 * The one entry point for a single window: records + time range + profile → features. An unresolved
 * profile uses its given resting HR or DEFAULT_RESTING_HR_BPM; pass a ResolvedProfile (from
 * resolveProfile with the history's estimate) to use an estimate.
 */
export function extractFeatures(records: readonly DeviceRecord[], range: TimeRange, profile: FeatureProfile | ResolvedProfile): WindowFeatures | null {
  const stats = windowStats(records, range);
  if (stats === null) return null;
  const resolved = isResolved(profile) ? profile : resolveProfile(profile);
  return { stats, features: featuresFromStats(stats, resolved) };
}

function isResolved(p: FeatureProfile | ResolvedProfile): p is ResolvedProfile {
  return 'restingHrSource' in p && typeof p.restingHrBpm === 'number' && typeof p.hrMaxBpm === 'number';
}

/** Windows used for the resting-HR estimate: mostly valid HR and no stepping. */
export const RESTING_HR_MIN_VALID_FRACTION = 0.5;
export const RESTING_HR_MAX_CADENCE_SPM = 10;
/** Percentile of still windows' mean HR taken as resting HR (see estimateRestingHr). */
export const RESTING_HR_PERCENTILE = 10;
/** An estimate needs this many still windows (an hour of 60-s windows). */
export const RESTING_HR_MIN_WINDOWS = 60;

/**
 * Resting HR from the wearer's own history: the RESTING_HR_PERCENTILE-th percentile (nearest rank) of
 * the mean HR of still windows (hrValidFraction ≥ 0.5, cadence < 10 steps/min). A low percentile
 * rather than the minimum, so that one noisy minute does not set it; the history includes sleep,
 * where HR runs a few bpm below the awake resting value, so this estimate sits a little under a
 * clinical (seated, awake) resting HR — the same way in pretraining and on every gateway, which is what
 * the model needs. Returns null with fewer than RESTING_HR_MIN_WINDOWS still windows.
 */
export function estimateRestingHr(history: Iterable<WindowStats>): number | null {
  const means: number[] = [];
  for (const s of history) {
    if (s.hrMeanBpm === null || s.hrValidFraction < RESTING_HR_MIN_VALID_FRACTION) continue;
    if ((s.cadenceSpm ?? 0) >= RESTING_HR_MAX_CADENCE_SPM) continue;
    means.push(s.hrMeanBpm);
  }
  if (means.length < RESTING_HR_MIN_WINDOWS) return null;
  means.sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((RESTING_HR_PERCENTILE / 100) * means.length));
  return means[rank - 1];
}
