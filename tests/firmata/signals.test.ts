/**
 * The pure cores on both sides of the Firmata link, without a port: device-sim's simulated wearer
 * (pulse waveform, step line) read by firmware-bindings' PulseStepRecorder (beat detection, step
 * debouncing) on the sample clock.
 */
import { describe, expect, it } from 'vitest';
import { BeatDetector, PulseStepRecorder, StepCounter, type DeviceRecord } from '../../firmware-bindings/index.ts';
import { SimulatedWearer, makeUsers, type Bout } from '../../device-sim/index.ts';

const START = Date.UTC(2026, 10, 3, 8, 0, 0);

function run(schedule: Bout[], opts: { seed: number; cluster: 'endurance-runners' | 'sedentary-older'; intervalMs?: number; bounce?: boolean }) {
  const [user] = makeUsers({ count: 1, seed: opts.seed, clusters: [opts.cluster] });
  const durationS = schedule.reduce((s, b) => s + b.durationS, 0);
  const wearer = new SimulatedWearer(user, { startMs: START, durationS, seed: opts.seed, schedule, stepBounce: opts.bounce });
  const rec = new PulseStepRecorder({ deviceId: user.deviceId, startMs: START });
  const I = opts.intervalMs ?? 20;
  const records: DeviceRecord[] = [];
  let lastStep = -1;
  for (let t = 0; t <= durationS * 1000; t += I) {
    const s = wearer.sample(t);
    if (s.step !== lastStep) {
      rec.stepLevel(s.step, t); // Firmata sends the port only when it changes
      lastStep = s.step;
    }
    records.push(...rec.pulseSample(s.ppg, t));
  }
  return { user, wearer, rec, records, durationS };
}

/** Mean true HR over the seconds whose beats the median window (7 intervals) covers. */
function truthAround(wearer: SimulatedWearer, tMs: number, spanMs: number): number {
  if (!(spanMs < 20_000)) throw new Error(`no sensible window for a rate of ${(7 * 60_000) / spanMs} bpm`);
  const secs: number[] = [];
  for (let s = Math.floor((tMs - spanMs) / 1000); s < Math.ceil(tMs / 1000); s++) if (s >= 0) secs.push(wearer.truth.hrBpm[s]);
  return secs.reduce((a, b) => a + b, 0) / secs.length;
}

describe('SimulatedWearer -> PulseStepRecorder (sample clock, no I/O)', () => {
  it('finds heart rate within 3 bpm of the truth walking, and counts every step', () => {
    const { wearer, rec, records, durationS } = run([{ activity: 'walking', startS: 0, durationS: 60, speedMpm: 95, labelled: false }], {
      seed: 3,
      cluster: 'sedentary-older',
    });
    const hr = records.filter((r) => r.type === 'heartRate');
    expect(hr).toHaveLength(durationS);
    const settled = hr.filter((r) => r.timestampMs - START >= 8000);
    expect(settled.every((r) => r.confidence > 50)).toBe(true);
    for (const r of settled) {
      const t = r.timestampMs - START;
      expect(Math.abs(r.bpm - truthAround(wearer, t, (7 * 60_000) / r.bpm))).toBeLessThan(3);
    }
    // warm-up: no rate until three intervals are known, reported as "no contact"
    expect(hr[0]).toMatchObject({ bpm: 0, confidence: 0 });
    const steps = records.filter((r) => r.type === 'steps');
    expect(steps.at(-1)!.total).toBe(wearer.truth.stepsTotal.at(-1));
    expect(steps.at(-1)!.total).toBeGreaterThan(80);
    expect(rec.beats.stats.ibisRefused).toBeLessThanOrEqual(1);
    // RR intervals are the detected beats, within a few ms of the emitted ones
    const rr = records.flatMap((r) => (r.type === 'rrIntervals' ? r.intervalsMs : []));
    const trueIbis = wearer.truth.beatsMs.slice(1).map((b, i) => b - wearer.truth.beatsMs[i]);
    expect(rr.length).toBeGreaterThan(trueIbis.length - 8);
    const meanRr = rr.reduce((a, b) => a + b, 0) / rr.length;
    const meanTrue = trueIbis.slice(-rr.length).reduce((a, b) => a + b, 0) / rr.length;
    expect(Math.abs(meanRr - meanTrue)).toBeLessThan(5);
  });

  it('keeps up with a runner (fast beats, 3 steps a second) and ignores a bouncing step switch', () => {
    const { wearer, rec, records } = run(
      [
        { activity: 'rest', startS: 0, durationS: 15, labelled: false },
        { activity: 'running', startS: 15, durationS: 45, speedMpm: 250, labelled: false },
      ],
      { seed: 8, cluster: 'endurance-runners', bounce: true },
    );
    const last = records.filter((r) => r.type === 'steps').at(-1)!;
    expect(last.total).toBe(wearer.truth.stepsTotal.at(-1));
    expect(last.total).toBeGreaterThan(100);
    // every pulse bounced on both edges, and all of it was ignored
    expect(rec.steps.stats.bouncesIgnored).toBe(2 * wearer.truth.stepPulses);
    const hr = records.filter((r) => r.type === 'heartRate' && r.timestampMs - START >= 50_000);
    for (const r of hr) {
      if (r.type !== 'heartRate') continue;
      const t = r.timestampMs - START;
      expect(Math.abs(r.bpm - truthAround(wearer, t, (7 * 60_000) / r.bpm))).toBeLessThan(3);
    }
  });

  it('reports no heart rate (confidence 0) when the pulse signal goes flat, and recovers', () => {
    const d = new BeatDetector();
    const rec = new PulseStepRecorder({ deviceId: 1, startMs: START });
    const out: DeviceRecord[] = [];
    // a clean 75-bpm pulse for 15 s, flat for 5 s, pulse again for 15 s
    for (let t = 0; t <= 35_000; t += 20) {
      const flat = t >= 15_000 && t < 20_000;
      const phase = (t % 800) / 800;
      const v = flat ? 500 : 500 + 300 * Math.exp(-0.5 * ((phase - 0.15) / 0.05) ** 2);
      d.push(v, t);
      out.push(...rec.pulseSample(v, t));
    }
    const at = (s: number) => out.find((r) => r.type === 'heartRate' && r.timestampMs === START + s * 1000);
    expect(at(14)).toMatchObject({ bpm: 75 });
    expect(at(19)).toMatchObject({ bpm: 0, confidence: 0 });
    expect(at(35)).toMatchObject({ bpm: 75 });
    expect(d.stats.resets).toBeGreaterThanOrEqual(1);
  });

  it('refuses bad samples without losing its place, and counts them', () => {
    const rec = new PulseStepRecorder({ deviceId: 1, startMs: START });
    rec.pulseSample(Number.NaN, 0);
    rec.pulseSample(-3, 20);
    rec.pulseSample(512, 40);
    expect(rec.stats).toMatchObject({ badSamples: 2, pulseSamples: 1 });
  });
});

describe('StepCounter', () => {
  it('counts debounced rising edges only, and refuses impossibly fast steps', () => {
    const c = new StepCounter({ debounceMs: 30, minStepIntervalMs: 150 });
    const levels: Array<[0 | 1, number]> = [
      [0, 0],
      [1, 100], // step 1 (confirmed at 130)
      [0, 200],
      [1, 400],
      [0, 410], // chatter: did not hold
      [1, 420], // step 2 (confirmed at 450)
      [0, 500],
      [1, 560], // a debounced rise 160 ms after step 2's: allowed
      [0, 650],
      [1, 680], // 120 ms after the previous step: refused
      [0, 760],
    ];
    for (const [l, t] of levels) c.level(l, t);
    c.advance(1000);
    expect(c.count).toBe(3);
    expect(c.stats).toEqual({ steps: 3, bouncesIgnored: 1, stepsRefused: 1 });
  });
});
