import { describe, expect, it } from 'vitest';
import {
  acsmRunningSpeedForVo2,
  acsmRunningVo2,
  acsmWalkingVo2,
  hrFromVo2Reserve,
  kcalPerMinFromVo2,
  mifflinStJeorRmr,
  tanakaHrMax,
  vo2FromKcalPerMin,
  walkingStepLengthM,
} from '../../device-sim/index.ts';

describe('published equations', () => {
  it('Mifflin–St Jeor: 70 kg, 175 cm, 30 y man = 1648.75 kcal/day; the woman 166 less', () => {
    expect(mifflinStJeorRmr('male', 70, 175, 30)).toBeCloseTo(1648.75, 6);
    expect(mifflinStJeorRmr('female', 70, 175, 30)).toBeCloseTo(1648.75 - 166, 6);
  });

  it('Tanaka HRmax = 208 − 0.7·age', () => {
    expect(tanakaHrMax(40)).toBeCloseTo(180, 9);
  });

  it('ACSM walking and running equations (ml/kg/min)', () => {
    expect(acsmWalkingVo2(80, 0)).toBeCloseTo(11.5, 9);
    expect(acsmWalkingVo2(80, 0.05)).toBeCloseTo(11.5 + 7.2, 9);
    expect(acsmRunningVo2(200, 0)).toBeCloseTo(43.5, 9);
    expect(acsmRunningVo2(200, 0.02)).toBeCloseTo(43.5 + 3.6, 9);
    expect(acsmRunningSpeedForVo2(43.5)).toBeCloseTo(200, 9);
  });

  it('kcal/min = VO2 × weight / 1000 × 5, and its inverse', () => {
    expect(kcalPerMinFromVo2(35, 80)).toBeCloseTo(14, 9);
    expect(vo2FromKcalPerMin(14, 80)).toBeCloseTo(35, 9);
  });

  it('Swain & Leutholtz: HR at 0%, 50%, 100% of VO2 reserve', () => {
    expect(hrFromVo2Reserve(0, 60, 180)).toBe(60);
    expect(hrFromVo2Reserve(0.5, 60, 180)).toBe(120);
    expect(hrFromVo2Reserve(1, 60, 180)).toBe(180);
  });

  it('walking step length ≈ 0.415 (men) / 0.413 (women) × height', () => {
    expect(walkingStepLengthM('male', 180)).toBeCloseTo(0.747, 6);
    expect(walkingStepLengthM('female', 160)).toBeCloseTo(0.6608, 6);
  });
});
