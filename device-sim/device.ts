/**
 * One simulated wearable: the records it emits, in time order, and the held-out truth behind them.
 *
 * Timing: deviceInfo and a battery record at startMs; then each simulated second i (covering
 * [startMs + i·1000, startMs + (i+1)·1000)) reports at its end, startMs + (i+1)·1000: heart rate
 * every second, cumulative steps every device.stepsIntervalS, RR intervals every device.rrIntervalS
 * (skipped when no beat was detected), an energy label when a 60-s labelled window closes, battery
 * every 60 s. So every record describes the past, and a label covers exactly the truth seconds
 * [timestampMs − 60 000, timestampMs).
 */
import { activityFromCode, type ActivityKind } from './activities.ts';
import { boutsFor, resolveSimOptions, type SimOptions } from './options.ts';
import { Physiology, type TruthSample } from './physiology.ts';
import { makeRng } from './rng.ts';
import type { Bout } from './schedule.ts';
import { WristSensor, type WristReading } from './sensors.ts';
import type { UserProfile } from './users.ts';
import type { DeviceRecord, LabelSourceCode } from '../firmware-bindings/index.ts';

export const LABEL_WINDOW_S = 60;
export const BATTERY_INTERVAL_S = 60;
/** The wire format carries at most 32 RR intervals per record. */
const MAX_RR_PER_RECORD = 32;

export interface SimTick {
  /** Simulated second index. */
  second: number;
  /** Start of this second, ms since epoch. */
  startMs: number;
  truth: TruthSample;
  reading: WristReading;
  /** Records emitted while this second was simulated (their timestamps are non-decreasing). */
  records: DeviceRecord[];
}

interface LabelWindow {
  endS: number;
  source: LabelSourceCode;
}

/** Per-second truth and sensor readings with the records they produce. The core the other views share. */
export function* simulateTicks(user: UserProfile, options: SimOptions): Generator<SimTick, void, undefined> {
  const o = resolveSimOptions(options);
  const bouts = boutsFor(user, o);
  const physiology = new Physiology(user, bouts, o.startMs, o.seed);
  const streamRng = (label: string) => makeRng(o.seed, label, user.deviceId, user.seed, o.startMs);
  const sensor = new WristSensor(user, streamRng('sensor'), o.initialSteps);
  const labelRng = streamRng('labels');
  const batteryRng = streamRng('battery');
  const windows = labelWindows(bouts);
  let windowIndex = 0;
  const recentKcal = new Float64Array(LABEL_WINDOW_S);

  const dev = user.device;
  const batteryStart = batteryRng.uniform(55, 100);
  const batteryRecord = (deviceId: number, seq: number, timestampMs: number, second: number): DeviceRecord => {
    const percent = Math.max(0, Math.floor(batteryStart - (dev.batteryDrainPerDay * second) / 86_400));
    // Li-ion cell from about 3.4 V empty to 4.2 V full.
    return { type: 'battery', deviceId, seq, timestampMs, percent, millivolts: Math.round(3400 + 8 * percent) };
  };

  const deviceId = user.deviceId;
  let nextSeq = o.firstSeq;
  const seq = (): number => {
    const s = nextSeq;
    nextSeq = s === 0xffff_ffff ? 0 : s + 1;
    return s;
  };

  let pendingRr: number[] = [];
  for (let i = 0; i < o.durationS; i++) {
    const records: DeviceRecord[] = [];
    if (i === 0) {
      records.push({
        type: 'deviceInfo',
        deviceId,
        seq: seq(),
        timestampMs: o.startMs,
        firmware: [...dev.firmware],
        hardwareRevision: dev.hardwareRevision,
        model: dev.model,
      });
      records.push(batteryRecord(deviceId, seq(), o.startMs, 0));
    }
    const truth = physiology.step(i);
    const reading = sensor.step(i, truth);
    recentKcal[i % LABEL_WINDOW_S] = truth.kcalPerMin;
    const end = i + 1;
    const ts = o.startMs + end * 1000;

    records.push({ type: 'heartRate', deviceId, seq: seq(), timestampMs: ts, bpm: reading.bpm, confidence: reading.confidence });
    if (end % dev.stepsIntervalS === 0) {
      records.push({ type: 'steps', deviceId, seq: seq(), timestampMs: ts, total: reading.stepsTotal });
    }
    for (const rr of reading.rrMs) pendingRr.push(rr);
    if (end % dev.rrIntervalS === 0 && pendingRr.length > 0) {
      for (let k = 0; k < pendingRr.length; k += MAX_RR_PER_RECORD) {
        const intervalsMs = pendingRr.slice(k, k + MAX_RR_PER_RECORD);
        records.push({ type: 'rrIntervals', deviceId, seq: seq(), timestampMs: ts, intervalsMs });
      }
      pendingRr = [];
    }
    const w = windows[windowIndex];
    if (w !== undefined && w.endS === end) {
      windowIndex++;
      let sum = 0;
      for (const v of recentKcal) sum += v;
      // Reference EE with about 5% noise (notes: chest strap plus a lab-calibrated model, or gym equipment).
      const kcal = Math.max(0, (sum / LABEL_WINDOW_S) * (1 + o.labelNoise * labelRng.normal()));
      records.push({
        type: 'energyLabel',
        deviceId,
        seq: seq(),
        timestampMs: ts,
        kcalPerMin: Math.round(kcal * 1000) / 1000,
        durationS: LABEL_WINDOW_S,
        source: w.source,
      });
    }
    if (end % BATTERY_INTERVAL_S === 0) records.push(batteryRecord(deviceId, seq(), ts, end));
    yield { second: i, startMs: o.startMs + i * 1000, truth, reading, records };
  }
}

/** The records one device emits, in time order, with per-device increasing (wrapping) seq numbers. */
export function* simulateDevice(user: UserProfile, options: SimOptions): Generator<DeviceRecord, void, undefined> {
  for (const tick of simulateTicks(user, options)) yield* tick.records;
}

/** Held-out ground truth, one entry per simulated second (index i covers [startMs + i·1000, +1000)). */
export interface DeviceTruth {
  userId: string;
  deviceId: number;
  startMs: number;
  durationS: number;
  bouts: Bout[];
  /** activityCode per second; activityFromCode() names it. */
  activity: Uint8Array;
  /** 1 where the second lies in a labelled bout. */
  labelled: Uint8Array;
  kcalPerMin: Float64Array;
  hrBpm: Float32Array;
  cadenceSpm: Float32Array;
  met: Float32Array;
}

/** The truth of simulateDevice(user, options) without simulating the sensor (same draws, same values). */
export function simulateTruth(user: UserProfile, options: SimOptions): DeviceTruth {
  const o = resolveSimOptions(options);
  const bouts = boutsFor(user, o);
  const physiology = new Physiology(user, bouts, o.startMs, o.seed);
  const n = o.durationS;
  const truth: DeviceTruth = {
    userId: user.userId,
    deviceId: user.deviceId,
    startMs: o.startMs,
    durationS: n,
    bouts,
    activity: new Uint8Array(n),
    labelled: new Uint8Array(n),
    kcalPerMin: new Float64Array(n),
    hrBpm: new Float32Array(n),
    cadenceSpm: new Float32Array(n),
    met: new Float32Array(n),
  };
  for (let i = 0; i < n; i++) {
    const s = physiology.step(i);
    truth.activity[i] = s.activityCode;
    truth.labelled[i] = s.labelled ? 1 : 0;
    truth.kcalPerMin[i] = s.kcalPerMin;
    truth.hrBpm[i] = s.hrBpm;
    truth.cadenceSpm[i] = s.cadenceSpm;
    truth.met[i] = s.met;
  }
  return truth;
}

export interface TruthWindow {
  /** Window start and end, ms since epoch: [startMs, endMs). */
  startMs: number;
  endMs: number;
  meanKcalPerMin: number;
  meanHrBpm: number;
  meanCadenceSpm: number;
  /** The activity that fills most of the window. */
  activity: ActivityKind;
  /** Every second of the window is labelled. */
  labelled: boolean;
}

/** Truth averaged over consecutive windows of windowS seconds (a trailing partial window is dropped). */
export function truthWindows(truth: DeviceTruth, windowS = LABEL_WINDOW_S): TruthWindow[] {
  if (!Number.isInteger(windowS) || windowS < 1) throw new RangeError(`windowS must be a positive integer, got ${windowS}`);
  const out: TruthWindow[] = [];
  for (let w0 = 0; w0 + windowS <= truth.durationS; w0 += windowS) {
    let kcal = 0;
    let hr = 0;
    let cad = 0;
    let labelled = true;
    const counts = new Map<number, number>();
    for (let i = w0; i < w0 + windowS; i++) {
      kcal += truth.kcalPerMin[i]!;
      hr += truth.hrBpm[i]!;
      cad += truth.cadenceSpm[i]!;
      labelled &&= truth.labelled[i] === 1;
      counts.set(truth.activity[i]!, (counts.get(truth.activity[i]!) ?? 0) + 1);
    }
    let best = -1;
    let bestCount = -1;
    for (const [code, c] of counts) if (c > bestCount) [best, bestCount] = [code, c];
    out.push({
      startMs: truth.startMs + w0 * 1000,
      endMs: truth.startMs + (w0 + windowS) * 1000,
      meanKcalPerMin: kcal / windowS,
      meanHrBpm: hr / windowS,
      meanCadenceSpm: cad / windowS,
      activity: activityFromCode(best),
      labelled,
    });
  }
  return out;
}

/** 60-s windows aligned to the start of each labelled bout, fully inside it. */
function labelWindows(bouts: readonly Bout[]): LabelWindow[] {
  const out: LabelWindow[] = [];
  for (const b of bouts) {
    if (!b.labelled || b.labelSource === undefined) continue;
    for (let w0 = b.startS; w0 + LABEL_WINDOW_S <= b.startS + b.durationS; w0 += LABEL_WINDOW_S) {
      out.push({ endS: w0 + LABEL_WINDOW_S, source: b.labelSource });
    }
  }
  return out;
}
