import { describe, expect, it } from 'vitest';
import {
  FEATURE_COUNT,
  FEATURE_INDEX,
  KCAL_PER_KG_MIN_PER_MET,
  keytelKcalPerMin,
  keytelKjPerMin,
  keytelPredictor,
  keytelVo2maxPredictor,
  stepsKcalPerMin,
  stepsMet,
  stepsPredictor,
} from '../../models/index.ts';

describe('Keytel et al. (2005)', () => {
  // Hand-computed from the paper's equations (calorie-domain notes), term by term.
  it('without VO2max, men: −55.0969 + 0.6309·150 + 0.1988·80 + 0.2017·30 = 61.4931 kJ/min', () => {
    expect(keytelKjPerMin({ sex: 'male', hrBpm: 150, weightKg: 80, ageY: 30 })).toBeCloseTo(61.4931, 10);
    expect(keytelKcalPerMin({ sex: 'male', hrBpm: 150, weightKg: 80, ageY: 30 })).toBeCloseTo(61.4931 / 4.184, 10);
  });

  it('without VO2max, women: −20.4022 + 0.4472·140 − 0.1263·60 + 0.074·25 = 36.4778 kJ/min', () => {
    expect(keytelKjPerMin({ sex: 'female', hrBpm: 140, weightKg: 60, ageY: 25 })).toBeCloseTo(36.4778, 10);
  });

  it('with VO2max: −59.3954 + (−36.3781 + 0.271·30 + 0.394·80 + 0.404·50 + 0.634·150) = 59.1765 kJ/min (men)', () => {
    expect(keytelKjPerMin({ sex: 'male', hrBpm: 150, weightKg: 80, ageY: 30, vo2maxMlKgMin: 50 })).toBeCloseTo(59.1765, 10);
  });

  it('with VO2max: −59.3954 + 0.274·25 + 0.103·60 + 0.380·40 + 0.450·140 = 31.8346 kJ/min (women)', () => {
    expect(keytelKjPerMin({ sex: 'female', hrBpm: 140, weightKg: 60, ageY: 25, vo2maxMlKgMin: 40 })).toBeCloseTo(31.8346, 10);
  });

  it('floors the kcal/min estimate at 0 where the equation goes negative', () => {
    // −20.4022 + 22.36 − 12.63 + 1.48 = −9.1922 kJ/min.
    expect(keytelKjPerMin({ sex: 'female', hrBpm: 50, weightKg: 100, ageY: 20 })).toBeCloseTo(-9.1922, 10);
    expect(keytelKcalPerMin({ sex: 'female', hrBpm: 50, weightKg: 100, ageY: 20 })).toBe(0);
  });
});

describe('steps estimate', () => {
  it('is 1 MET below 60 steps/min', () => {
    expect(stepsMet({ cadenceSpm: 30, heightCm: 175, sex: 'male' })).toBe(1);
    expect(stepsKcalPerMin({ cadenceSpm: 0, heightCm: 175, weightKg: 70, sex: 'male' })).toBeCloseTo(70 * 0.0175, 12);
    expect(KCAL_PER_KG_MIN_PER_MET).toBeCloseTo(0.0175, 12);
  });

  it('walks with the ACSM walking equation at step length 0.415·height (men)', () => {
    // 100 steps/min × 0.72625 m = 72.625 m/min; VO2 = 7.2625 + 3.5 = 10.7625; 3.075 MET (≈ Tudor-Locke's 3 MET at 100).
    expect(stepsMet({ cadenceSpm: 100, heightCm: 175, sex: 'male' })).toBeCloseTo(10.7625 / 3.5, 12);
    expect(stepsKcalPerMin({ cadenceSpm: 100, heightCm: 175, weightKg: 70, sex: 'male' })).toBeCloseTo(3.075 * 70 * 0.0175, 10);
    // Women: 0.413·height.
    expect(stepsMet({ cadenceSpm: 100, heightCm: 160, sex: 'female' })).toBeCloseTo((0.1 * 100 * 0.413 * 1.6 + 3.5) / 3.5, 12);
  });

  it('runs with the ACSM running equation from 140 steps/min', () => {
    // 160 × 0.72625 = 116.2 m/min; VO2 = 23.24 + 3.5 = 26.74.
    expect(stepsMet({ cadenceSpm: 160, heightCm: 175, sex: 'male' })).toBeCloseTo(26.74 / 3.5, 12);
    expect(stepsMet({ cadenceSpm: 139, heightCm: 175, sex: 'male' })).toBeCloseTo((0.1 * 139 * 0.72625 + 3.5) / 3.5, 12);
  });
});

describe('baseline predictors on feature rows', () => {
  const row = (values: Partial<Record<keyof typeof FEATURE_INDEX, number>>): Float32Array => {
    const r = new Float32Array(FEATURE_COUNT);
    for (const [k, v] of Object.entries(values)) r[FEATURE_INDEX[k as keyof typeof FEATURE_INDEX]] = v as number;
    return r;
  };
  const X = new Float32Array([
    ...row({ hrMeanBpm: 150, weightKg: 80, ageY: 30, sexMale: 1, cadenceSpm: 100, heightCm: 175 }),
    ...row({ hrMeanBpm: 140, weightKg: 60, ageY: 25, sexMale: 0, cadenceSpm: 20, heightCm: 160 }),
  ]);

  it('reads the right columns', async () => {
    const k = await keytelPredictor()(X, 2);
    expect(k[0]).toBeCloseTo(61.4931 / 4.184, 4);
    expect(k[1]).toBeCloseTo(36.4778 / 4.184, 4);
    const kv = await keytelVo2maxPredictor([50, 40])(X, 2);
    expect(kv[0]).toBeCloseTo(59.1765 / 4.184, 4);
    expect(kv[1]).toBeCloseTo(31.8346 / 4.184, 4);
    const s = await stepsPredictor()(X, 2);
    expect(s[0]).toBeCloseTo(3.075 * 80 * 0.0175, 4);
    expect(s[1]).toBeCloseTo(60 * 0.0175, 6);
  });

  it('needs a VO2max per row', () => {
    expect(() => keytelVo2maxPredictor([50])(X, 2)).toThrow(/1 VO2max values for 2 rows/);
  });
});
