import type { DeviceRecord, EnergyLabelRecord, HeartRateRecord, RrIntervalsRecord, StepsRecord } from '../../firmware-bindings/index.ts';

/** A grid-aligned start (a multiple of 60 s), 2026-01-05T10:00Z. */
export const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

let seq = 0;
const header = (timestampMs: number) => ({ deviceId: 7, seq: seq++, timestampMs });

export const hr = (timestampMs: number, bpm: number, confidence = 90): HeartRateRecord => ({ type: 'heartRate', ...header(timestampMs), bpm, confidence });
export const steps = (timestampMs: number, total: number): StepsRecord => ({ type: 'steps', ...header(timestampMs), total });
export const rr = (timestampMs: number, intervalsMs: number[]): RrIntervalsRecord => ({ type: 'rrIntervals', ...header(timestampMs), intervalsMs });
export const label = (timestampMs: number, kcalPerMin: number, durationS = 60): EnergyLabelRecord => ({
  type: 'energyLabel',
  ...header(timestampMs),
  kcalPerMin,
  durationS,
  source: 1,
});

/**
 * Records as a device emits them for [fromMs, toMs): HR every second (at the end of the second),
 * steps every `stepsEveryS` at `cadence` steps/min, all in time order.
 */
export function stream(fromMs: number, toMs: number, opts: { bpm?: (tMs: number) => number; cadence?: number; stepsEveryS?: number; startSteps?: number } = {}): DeviceRecord[] {
  const out: DeviceRecord[] = [];
  const every = opts.stepsEveryS ?? 2;
  const cadence = opts.cadence ?? 0;
  let total = opts.startSteps ?? 1000;
  for (let t = fromMs + 1000; t <= toMs; t += 1000) {
    out.push(hr(t, opts.bpm ? opts.bpm(t) : 80));
    if (((t - fromMs) / 1000) % every === 0) {
      total += (cadence * every) / 60;
      out.push(steps(t, Math.round(total)));
    }
  }
  return out;
}

export const PROFILE = { sex: 'male', ageY: 40, weightKg: 80, heightCm: 180 } as const;
