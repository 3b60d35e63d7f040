/**
 * The published equations the simulator is built on, as pure functions.
 * Sources and checked values: /work/shared/notes/calorie-domain.md.
 */

export type Sex = 'female' | 'male';

/** 1 MET = 3.5 ml O2 per kg per minute. */
export const ML_O2_PER_KG_MIN_PER_MET = 3.5;
/** About 5 kcal per litre of O2 (4.7 at RER 0.7 to 5.05 at RER 1.0). */
export const KCAL_PER_LITRE_O2 = 5;

/** kcal/min = VO2 (ml/kg/min) × weight (kg) / 1000 × 5. */
export function kcalPerMinFromVo2(vo2MlKgMin: number, weightKg: number): number {
  return (vo2MlKgMin * weightKg * KCAL_PER_LITRE_O2) / 1000;
}

/** Inverse of kcalPerMinFromVo2. */
export function vo2FromKcalPerMin(kcalPerMin: number, weightKg: number): number {
  return (kcalPerMin * 1000) / (weightKg * KCAL_PER_LITRE_O2);
}

/**
 * Resting metabolic rate, kcal/day. Mifflin, St Jeor et al. (1990), Am J Clin Nutr 51(2):241–247:
 * 10·weight + 6.25·height(cm) − 5·age + 5 (men), − 161 (women).
 */
export function mifflinStJeorRmr(sex: Sex, weightKg: number, heightCm: number, ageY: number): number {
  return 10 * weightKg + 6.25 * heightCm - 5 * ageY + (sex === 'male' ? 5 : -161);
}

/** Maximal heart rate. Tanaka, Monahan, Seals (2001), J Am Coll Cardiol 37:153–156: 208 − 0.7·age. */
export function tanakaHrMax(ageY: number): number {
  return 208 - 0.7 * ageY;
}

/**
 * ACSM walking equation, gross VO2 (ml/kg/min): 0.1·speed + 1.8·speed·grade + 3.5,
 * speed in m/min (valid about 50–100), grade as a fraction.
 */
export function acsmWalkingVo2(speedMpm: number, grade: number): number {
  return 0.1 * speedMpm + 1.8 * speedMpm * grade + 3.5;
}

/**
 * ACSM running equation, gross VO2 (ml/kg/min): 0.2·speed + 0.9·speed·grade + 3.5,
 * speed in m/min (valid above 134, or 80–134 if truly running).
 */
export function acsmRunningVo2(speedMpm: number, grade: number): number {
  return 0.2 * speedMpm + 0.9 * speedMpm * grade + 3.5;
}

/** Level-ground running speed (m/min) that costs the given gross VO2: ACSM running equation inverted. */
export function acsmRunningSpeedForVo2(vo2MlKgMin: number): number {
  return (vo2MlKgMin - 3.5) / 0.2;
}

/**
 * Heart rate from oxygen-uptake reserve. Swain & Leutholtz (1997), Med Sci Sports Exerc 29(3):410–414:
 * %HRR vs %VO2R is close to the line of identity (slope 1.00, intercept −0.1), so
 * HR = HRrest + %VO2R × (HRmax − HRrest), with %VO2R = (VO2 − VO2rest) / (VO2max − VO2rest).
 */
export function hrFromVo2Reserve(fractionVo2r: number, hrRest: number, hrMax: number): number {
  return hrRest + fractionVo2r * (hrMax - hrRest);
}

export function vo2ReserveFraction(vo2: number, vo2Rest: number, vo2Max: number): number {
  return (vo2 - vo2Rest) / (vo2Max - vo2Rest);
}

/** Step length (m) while walking ≈ 0.415 × height (men), 0.413 × height (women): a rule of thumb. */
export function walkingStepLengthM(sex: Sex, heightCm: number): number {
  return (sex === 'male' ? 0.415 : 0.413) * (heightCm / 100);
}
