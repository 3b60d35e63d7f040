/**
 * Published population estimators of energy expenditure, the yardsticks the learned model must beat.
 * Each is a pure function of the window's features and the profile, in kcal/min; `*Predictor`
 * wrappers apply them to feature rows (FEATURE_NAMES order) for evaluate.ts.
 * Sources: /work/shared/notes/calorie-domain.md.
 */
import { FEATURE_COUNT, FEATURE_INDEX, type Sex } from './features.ts';
import type { Predictor } from './evaluate.ts';

/** 1 kcal = 4.184 kJ. */
export const KJ_PER_KCAL = 4.184;

export interface KeytelInput {
  readonly hrBpm: number;
  readonly weightKg: number;
  readonly ageY: number;
  readonly sex: Sex;
  /** ml/kg/min; selects the VO2max equation when present. */
  readonly vo2maxMlKgMin?: number;
}

/**
 * Keytel, Goedecke, Noakes et al. (2005), J Sports Sci 23(3):289–297, EE in kJ/min (gender = 1 for
 * men, 0 for women). Without VO2max:
 *   EE = gender·(−55.0969 + 0.6309·HR + 0.1988·weight + 0.2017·age)
 *      + (1 − gender)·(−20.4022 + 0.4472·HR − 0.1263·weight + 0.074·age)
 * With VO2max:
 *   EE = −59.3954 + gender·(−36.3781 + 0.271·age + 0.394·weight + 0.404·VO2max + 0.634·HR)
 *      + (1 − gender)·(0.274·age + 0.103·weight + 0.380·VO2max + 0.450·HR)
 * Fitted at submaximal steady states (35–80% VO2max); it can go negative at low HR.
 */
export function keytelKjPerMin(x: KeytelInput): number {
  const g = x.sex === 'male' ? 1 : 0;
  const { hrBpm: hr, weightKg: w, ageY: a } = x;
  if (x.vo2maxMlKgMin === undefined) {
    return g * (-55.0969 + 0.6309 * hr + 0.1988 * w + 0.2017 * a) + (1 - g) * (-20.4022 + 0.4472 * hr - 0.1263 * w + 0.074 * a);
  }
  const v = x.vo2maxMlKgMin;
  return -59.3954 + g * (-36.3781 + 0.271 * a + 0.394 * w + 0.404 * v + 0.634 * hr) + (1 - g) * (0.274 * a + 0.103 * w + 0.38 * v + 0.45 * hr);
}

/**
 * Keytel in kcal/min, floored at 0: the equation goes negative at low heart rates and a negative
 * expenditure is no estimate at all. No other floor (such as RMR): that would be a different method.
 */
export function keytelKcalPerMin(x: KeytelInput): number {
  return Math.max(0, keytelKjPerMin(x) / KJ_PER_KCAL);
}

/** 1 MET = 3.5 ml O2/kg/min, at about 5 kcal per litre O2: 0.0175 kcal/kg/min (≈ 1 kcal/kg/h). */
export const KCAL_PER_KG_MIN_PER_MET = (3.5 * 5) / 1000;
/** Below this cadence the wearer is taken to be at rest (1 MET): incidental steps, not walking. */
export const STEPS_REST_BELOW_SPM = 60;
/** At and above this cadence the wearer is taken to be running (a rule of thumb for adults). */
export const STEPS_RUN_FROM_SPM = 140;

export interface StepsInput {
  readonly cadenceSpm: number;
  readonly heightCm: number;
  readonly weightKg: number;
  readonly sex: Sex;
}

/** Step length ≈ 0.415 × height (men), 0.413 × height (women), m: the walking rule of thumb. */
export function stepLengthM(sex: Sex, heightCm: number): number {
  return (sex === 'male' ? 0.415 : 0.413) * (heightCm / 100);
}

/**
 * MET from cadence: 1 MET below 60 steps/min; walking from 60 steps/min (ACSM walking equation,
 * VO2 = 0.1·speed + 3.5 on the level), running from 140 (ACSM running, VO2 = 0.2·speed + 3.5), with
 * speed = cadence × step length. At 100 steps/min this gives about 3 MET, the Tudor-Locke et al.
 * (2018, Br J Sports Med 52:776–788; CADENCE-Adults 2019, IJBNPA 16:8) moderate-intensity heuristic.
 * The walking step length is used for running too (a wrist counter knows no other), so running speed
 * and cost are underestimated; steps also miss cycling, loads, stairs and hills.
 */
export function stepsMet(x: Omit<StepsInput, 'weightKg'>): number {
  const c = x.cadenceSpm;
  if (!(c >= STEPS_REST_BELOW_SPM)) return 1;
  const speedMpm = c * stepLengthM(x.sex, x.heightCm);
  const vo2 = c >= STEPS_RUN_FROM_SPM ? 0.2 * speedMpm + 3.5 : 0.1 * speedMpm + 3.5;
  return vo2 / 3.5;
}

/** Steps estimate, kcal/min = MET × weight × 0.0175. */
export function stepsKcalPerMin(x: StepsInput): number {
  return stepsMet(x) * x.weightKg * KCAL_PER_KG_MIN_PER_MET;
}

function sexOf(row: ArrayLike<number>, base: number): Sex {
  return row[base + FEATURE_INDEX.sexMale] >= 0.5 ? 'male' : 'female';
}

/** Keytel without VO2max on feature rows (uses hrMeanBpm, which is the resting HR when imputed). */
export function keytelPredictor(): Predictor {
  return (X, n) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const b = i * FEATURE_COUNT;
      out[i] = keytelKcalPerMin({ hrBpm: X[b + FEATURE_INDEX.hrMeanBpm], weightKg: X[b + FEATURE_INDEX.weightKg], ageY: X[b + FEATURE_INDEX.ageY], sex: sexOf(X, b) });
    }
    return out;
  };
}

/** Keytel with VO2max; VO2max is not a feature, so it comes per row (vo2max[i] for row i). */
export function keytelVo2maxPredictor(vo2maxPerRow: ArrayLike<number>): Predictor {
  return (X, n) => {
    if (vo2maxPerRow.length < n) throw new Error(`keytelVo2maxPredictor: ${vo2maxPerRow.length} VO2max values for ${n} rows`);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const b = i * FEATURE_COUNT;
      out[i] = keytelKcalPerMin({
        hrBpm: X[b + FEATURE_INDEX.hrMeanBpm],
        weightKg: X[b + FEATURE_INDEX.weightKg],
        ageY: X[b + FEATURE_INDEX.ageY],
        sex: sexOf(X, b),
        vo2maxMlKgMin: vo2maxPerRow[i],
      });
    }
    return out;
  };
}

export function stepsPredictor(): Predictor {
  return (X, n) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const b = i * FEATURE_COUNT;
      out[i] = stepsKcalPerMin({ cadenceSpm: X[b + FEATURE_INDEX.cadenceSpm], heightCm: X[b + FEATURE_INDEX.heightCm], weightKg: X[b + FEATURE_INDEX.weightKg], sex: sexOf(X, b) });
    }
    return out;
  };
}
