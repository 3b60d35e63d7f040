/**
 * What each simulated participant brings to the demo: a labelled training period that flows through
 * their gateway, and a held-out day scored against the simulator's truth. The evaluation never
 * touches the gateway: it is what an experimenter with the ground truth would measure.
 */
import { makeSchedule, makeUsers, simulateDevice, simulateTruth, truthWindows, type Bout, type UserProfile } from '../device-sim/index.ts';
import { LabelSource, type DeviceRecord } from '../firmware-bindings/index.ts';
import { FEATURE_COUNT, demographicProfile, estimateRestingHr, recordWindows, windowRecords } from '../models/index.ts';

export interface PopulationOptions {
  users: number;
  seed: number;
  /** Seconds of labelled training sessions per user (a chest strap worn for them). */
  trainS: number;
  /** Seconds of the held-out period (a whole day by default, 'day' schedule). */
  testS: number;
  /**
   * What the labelled training period looks like: 'day', a normal day from 08:00 (sleep excluded)
   * with the strap worn throughout, or 'session', the cluster's workouts back to back.
   */
  trainSchedule?: 'day' | 'session';
}

export interface Participant {
  user: UserProfile;
  /** Resting HR from an unlabelled history day; given to the gateway and to the evaluation alike. */
  restingHrBpm: number | undefined;
  train: DeviceRecord[];
  /** Held-out feature rows (FEATURE_COUNT per window) and the true mean kcal/min of each window. */
  testX: Float32Array;
  testY: Float64Array;
}

const DAY_MS = 86_400_000;
/** A Monday; the history day precedes it, the training sessions fill its morning, the held-out day follows. */
const HISTORY_START_MS = Date.UTC(2026, 0, 5);

/**
 * Every bout of the training sessions carries a reference label: the user wore a chest strap for
 * them. Without this, the clusters' label shares leave some users with no labelled window at all
 * in a short demo.
 */
function labelledSessions(user: UserProfile, startMs: number, durationS: number, seed: number, mode: 'day' | 'session'): Bout[] {
  return makeSchedule(user, { startMs, durationS, seed, mode }).map((b) => (b.labelled ? b : { ...b, labelled: true, labelSource: LabelSource.ChestStrap }));
}

export function simulateParticipant(user: UserProfile, opts: PopulationOptions): Participant {
  const historyDay = { startMs: HISTORY_START_MS, durationS: 86_400, seed: opts.seed, schedule: 'day' as const };
  const history = recordWindows(simulateDevice(user, historyDay)).windows;
  const restingHrBpm = estimateRestingHr(history.map((w) => w.stats)) ?? undefined;
  const profile = { ...demographicProfile(user), ...(restingHrBpm === undefined ? {} : { restingHrBpm }) };

  const trainStart = HISTORY_START_MS + DAY_MS + 8 * 3_600_000;
  const trainSim = { startMs: trainStart, durationS: opts.trainS, seed: opts.seed, schedule: labelledSessions(user, trainStart, opts.trainS, opts.seed, opts.trainSchedule ?? 'day') };
  const train = [...simulateDevice(user, trainSim)];

  const testStart = HISTORY_START_MS + 2 * DAY_MS;
  const testSim = { startMs: testStart, durationS: opts.testS, seed: opts.seed, schedule: 'day' as const };
  const { windows } = windowRecords(simulateDevice(user, testSim), profile);
  const truth = new Map(truthWindows(simulateTruth(user, testSim), 60).map((t) => [t.startMs, t.meanKcalPerMin]));
  // Grid windows only: the truth is averaged on the same 60-s grid.
  const test = windows.filter((w) => truth.has(w.startMs) && w.endMs - w.startMs === 60_000);
  const testX = new Float32Array(test.length * FEATURE_COUNT);
  test.forEach((w, i) => testX.set(w.features, i * FEATURE_COUNT));
  return { user, restingHrBpm, train, testX, testY: Float64Array.from(test, (w) => truth.get(w.startMs)!) };
}

export function makePopulation(opts: PopulationOptions): UserProfile[] {
  return makeUsers({ count: opts.users, seed: opts.seed });
}
