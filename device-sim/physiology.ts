/**
 * True physiology, one second at a time: energy expenditure, heart rate and cadence of one user
 * following a schedule. This is the ground truth; sensors.ts turns it into what a wrist device sees.
 */
import {
  FIXED_MET,
  STAIRS_CADENCE_SPM,
  STRENGTH_CYCLE_S,
  STRENGTH_REST_MET,
  STRENGTH_WORK_S,
  activityCode,
  runningCadenceSpm,
  type ActivityKind,
} from './activities.ts';
import {
  ML_O2_PER_KG_MIN_PER_MET,
  acsmRunningVo2,
  acsmWalkingVo2,
  hrFromVo2Reserve,
  kcalPerMinFromVo2,
  vo2ReserveFraction,
  walkingStepLengthM,
} from './equations.ts';
import { makeRng, type Rng } from './rng.ts';
import type { Bout } from './schedule.ts';
import type { UserProfile } from './users.ts';

export interface TruthSample {
  activity: ActivityKind;
  /** activityCode(activity), for typed arrays. */
  activityCode: number;
  /** This second lies in a bout that carries reference-EE labels. */
  labelled: boolean;
  /** True energy expenditure, kcal/min (after kinetics, times the personal metabolic factor). */
  kcalPerMin: number;
  hrBpm: number;
  /** True step cadence, steps/min (0 when not stepping). */
  cadenceSpm: number;
  /** Gross MET the activity demands now (target VO2 / 3.5), before kinetics. */
  met: number;
  /** Demanded effort as a fraction of VO2 reserve (can be slightly negative in sleep). */
  vo2rFraction: number;
}

/** Share of an HR change carried by the fast (vagal) component, and its time constant. */
const HR_FAST_SHARE = 0.3;
const HR_FAST_TAU_S = 4;
/** Cardiac drift: about +12 bpm per hour at 65% VO2R (notes: +10–15 bpm over 60 min), capped. */
const DRIFT_BPM_PER_S_PER_VO2R = 12 / 3600 / 0.35;
const DRIFT_THRESHOLD_VO2R = 0.3;
const DRIFT_MAX_BPM = 20;
const DRIFT_RECOVERY_DECAY = Math.exp(-1 / 600);
/** Slow HR wander from posture, stress, caffeine: an Ornstein–Uhlenbeck process, SD 2.5 bpm, tau 120 s. */
const WANDER_SD_BPM = 2.5;
const WANDER_DECAY = Math.exp(-1 / 120);
/** Day-to-day shift of HR at the same workload (notes: a few bpm), reached over about an hour. */
const DAY_HR_SD_BPM = 2.5;
const DAY_SHIFT_ALPHA = 1 - Math.exp(-1 / 3600);
/** Nobody sustains a bout above this share of VO2 reserve; harder demands are capped. */
const MAX_SUSTAINED_VO2R = 0.95;
const DAY_MS = 86_400_000;

export class Physiology {
  private readonly bouts: readonly Bout[];
  private boutIndex = 0;
  private readonly rng: Rng;
  private readonly stepLengthM: number;
  private readonly eeAlpha: number;
  private readonly fastAlpha = 1 - Math.exp(-1 / HR_FAST_TAU_S);
  private vo2 = NaN;
  private hrFast = 0;
  private hrSlow = 0;
  private drift = 0;
  private wander = 0;
  private day = NaN;
  private dayTarget = 0;
  private dayShift = 0;
  private next = 0;

  constructor(
    private readonly user: UserProfile,
    bouts: readonly Bout[],
    private readonly startMs: number,
    private readonly seed: number,
  ) {
    this.bouts = bouts;
    this.rng = makeRng(seed, 'physiology', user.deviceId, user.seed, startMs);
    this.stepLengthM = walkingStepLengthM(user.sex, user.heightCm);
    this.eeAlpha = 1 - Math.exp(-1 / user.eeTauS);
  }

  /** The truth for second `second` (0, 1, 2, … in order). */
  step(second: number): TruthSample {
    if (second !== this.next) throw new RangeError(`Physiology.step expects second ${this.next}, got ${second}`);
    this.next++;
    const u = this.user;
    const bout = this.boutAt(second);
    const { vo2: vo2Target, met } = this.demand(bout, second - bout.startS);
    const frac = vo2ReserveFraction(vo2Target, u.vo2RestMlKgMin, u.vo2maxMlKgMin);
    const hrSteady =
      hrFromVo2Reserve(Math.max(-0.05, frac), u.restingHrBpm, u.hrMaxBpm) -
      (bout.activity === 'sleep' ? u.sleepHrDropBpm : 0);
    const delta = hrSteady - u.restingHrBpm;
    this.updateDay(second);

    if (Number.isNaN(this.vo2)) {
      // Start in steady state with the first bout.
      this.vo2 = vo2Target;
      this.hrFast = HR_FAST_SHARE * delta;
      this.hrSlow = (1 - HR_FAST_SHARE) * delta;
      this.wander = this.rng.normal(0, WANDER_SD_BPM);
    } else {
      // First-order kinetics (notes: time constants 30–60 s at moderate intensity).
      this.vo2 += (vo2Target - this.vo2) * this.eeAlpha;
      this.hrFast += (HR_FAST_SHARE * delta - this.hrFast) * this.fastAlpha;
      // Slower at high intensity.
      const tau = u.hrTauS * (1 + Math.max(0, frac - 0.5));
      this.hrSlow += ((1 - HR_FAST_SHARE) * delta - this.hrSlow) * (1 - Math.exp(-1 / tau));
      // Exact discretisation of an OU process with stationary SD WANDER_SD_BPM.
      this.wander = this.wander * WANDER_DECAY + WANDER_SD_BPM * Math.sqrt(1 - WANDER_DECAY ** 2) * this.rng.normal();
    }
    if (frac > DRIFT_THRESHOLD_VO2R) {
      this.drift = Math.min(DRIFT_MAX_BPM, this.drift + DRIFT_BPM_PER_S_PER_VO2R * (frac - DRIFT_THRESHOLD_VO2R));
    } else {
      this.drift *= DRIFT_RECOVERY_DECAY;
    }
    // At low intensity HR is driven by posture and stress more than by work (the flex-HR problem).
    const wanderGain = frac < 0.15 ? 1.4 : 1;
    const hr = u.restingHrBpm + this.dayShift + this.hrFast + this.hrSlow + this.drift + wanderGain * this.wander;

    // kcal/min = VO2 × weight / 1000 × 5, times the personal metabolic factor.
    const kcalPerMin = kcalPerMinFromVo2(this.vo2, u.weightKg) * u.metabolicFactor;
    const cadence = this.cadence(bout, met);
    return {
      activity: bout.activity,
      activityCode: activityCode(bout.activity),
      labelled: bout.labelled,
      kcalPerMin,
      hrBpm: Math.min(u.hrMaxBpm, Math.max(u.restingHrBpm - 25, hr)),
      cadenceSpm: cadence > 0 ? cadence * (1 + 0.015 * this.rng.normal()) : 0,
      met,
      vo2rFraction: frac,
    };
  }

  private boutAt(second: number): Bout {
    let b = this.bouts[this.boutIndex]!;
    while (second >= b.startS + b.durationS && this.boutIndex < this.bouts.length - 1) {
      b = this.bouts[++this.boutIndex]!;
    }
    return b;
  }

  /**
   * Gross VO2 (ml/kg/min) the activity demands. Fixed-MET activities add their net cost in standard
   * METs, (MET − 1) × 3.5, to the person's own resting VO2 — so quiet rest burns exactly the
   * Mifflin–St Jeor RMR rather than a textbook 3.5 ml/kg/min.
   */
  private demand(bout: Bout, tInBout: number): { vo2: number; met: number } {
    const u = this.user;
    const rest = u.vo2RestMlKgMin;
    let vo2: number;
    switch (bout.activity) {
      case 'walking':
        vo2 = rest + acsmWalkingVo2(bout.speedMpm ?? 80, bout.grade ?? 0) - ML_O2_PER_KG_MIN_PER_MET;
        break;
      case 'running':
        vo2 = rest + acsmRunningVo2(bout.speedMpm ?? 160, bout.grade ?? 0) - ML_O2_PER_KG_MIN_PER_MET;
        break;
      case 'cycling':
        vo2 = rest + (bout.vo2rFraction ?? 0.5) * (u.vo2maxMlKgMin - rest);
        break;
      case 'strength': {
        const working = tInBout % STRENGTH_CYCLE_S < STRENGTH_WORK_S;
        const met = working ? (bout.met ?? midpoint(FIXED_MET.strength)) : STRENGTH_REST_MET;
        vo2 = rest + (met - 1) * ML_O2_PER_KG_MIN_PER_MET;
        break;
      }
      default:
        vo2 = rest + ((bout.met ?? midpoint(FIXED_MET[bout.activity])) - 1) * ML_O2_PER_KG_MIN_PER_MET;
    }
    vo2 = Math.min(vo2, rest + MAX_SUSTAINED_VO2R * (u.vo2maxMlKgMin - rest));
    return { vo2, met: vo2 / ML_O2_PER_KG_MIN_PER_MET };
  }

  private cadence(bout: Bout, met: number): number {
    switch (bout.activity) {
      case 'walking':
        // speed = cadence × step length.
        return (bout.speedMpm ?? 80) / this.stepLengthM;
      case 'running':
        return runningCadenceSpm(bout.speedMpm ?? 160);
      case 'stairs':
        return STAIRS_CADENCE_SPM + 5 * (met - 6);
      default:
        return 0;
    }
  }

  private updateDay(second: number): void {
    const day = Math.floor((this.startMs + second * 1000) / DAY_MS);
    if (day !== this.day) {
      const first = Number.isNaN(this.day);
      this.day = day;
      this.dayTarget = makeRng(this.seed, 'day-hr', this.user.deviceId, this.user.seed, day).normal(0, DAY_HR_SD_BPM);
      if (first) this.dayShift = this.dayTarget;
    }
    // Glide to the new day's level instead of jumping at midnight.
    this.dayShift += (this.dayTarget - this.dayShift) * DAY_SHIFT_ALPHA;
  }
}

function midpoint(r: readonly [number, number]): number {
  return (r[0] + r[1]) / 2;
}
