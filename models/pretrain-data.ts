/**
 * The public population data the base model is trained and evaluated on: simulated users
 * (device-sim) wearing simulated devices, cut into feature windows exactly as a gateway cuts them
 * (windowing.ts), each window carrying its reference label (if a labelled session covered it) and the
 * simulator's true mean EE (for evaluation only: a company has the labels, not the truth).
 *
 * Splits, all deterministic from the seed:
 * - training users, training days: only labelled windows are kept (the training set);
 * - training users (all, or the first evalDayUsers), the following held-out days: every window
 *   (evaluation on held-out days of the same people);
 * - held-out users (never trained on): every window (evaluation on new people).
 * Each run's resting HR is estimated from that run's own windows (estimateRestingHr), as a gateway
 * estimates it from its stored history; age, sex, weight and height are taken as known.
 */
import {
  makeUsers,
  simulateTicks,
  type ClusterName,
  type UserProfile,
} from '../device-sim/index.ts';
import { FEATURE_COUNT, type FeatureProfile, type ResolvedProfile, estimateRestingHr, featuresFromStats, resolveProfile } from './features.ts';
import { type RecordWindow, type WindowingOptions, Windower } from './windowing.ts';

export const DAY_MS = 86_400_000;

export interface PopulationOptions {
  seed: number;
  /** Users whose labelled windows train the model. */
  trainUsers: number;
  /** Simulated days of each training user used for training. */
  trainDays: number;
  /** Days after the training days held out for evaluation, for the first evalDayUsers training users. */
  evalDays: number;
  /**
   * How many training users (the first ones: clusters are round-robin, so every cluster is in) also
   * get held-out days. Default: all of them.
   */
  evalDayUsers?: number;
  /** Users never trained on, evaluated on heldOutDays days each. */
  heldOutUsers: number;
  heldOutDays: number;
  /** Start of the simulation, ms since the epoch (pinned for reproducibility; midnight UTC). */
  startMs: number;
  windowing?: WindowingOptions;
}

/** Window rows, column-wise. */
export interface WindowRows {
  n: number;
  /** Raw features [n × FEATURE_COUNT] (FEATURE_NAMES order). */
  X: Float32Array;
  /** Reference label, kcal/min; NaN where no label covers the window. */
  label: Float64Array;
  /** True mean EE over the window, kcal/min. */
  truth: Float64Array;
  /** Dominant true activity (device-sim activity code). */
  activity: Uint8Array;
  /** Index into Population.users. */
  user: Int32Array;
}

export interface PopulationRun {
  userIndex: number;
  startMs: number;
  days: number;
  profile: ResolvedProfile;
  windows: number;
  labelled: number;
}

export interface Population {
  options: PopulationOptions;
  users: UserProfile[];
  /** Labelled windows of the training days of users [0, trainUsers). */
  train: WindowRows;
  /** Every window of the held-out days of the training users. */
  evalDays: WindowRows;
  /** Every window of users [trainUsers, trainUsers + heldOutUsers). */
  evalUsers: WindowRows;
  runs: PopulationRun[];
}

export type PopulationPart = 'train' | 'evalDays' | 'evalUsers';

class RowBuilder {
  private X: number[] = [];
  private label: number[] = [];
  private truth: number[] = [];
  private activity: number[] = [];
  private user: number[] = [];
  private row = new Float32Array(FEATURE_COUNT);

  add(features: Float32Array, label: number, truth: number, activity: number, user: number): void {
    for (let j = 0; j < FEATURE_COUNT; j++) this.X.push(features[j]);
    this.label.push(label);
    this.truth.push(truth);
    this.activity.push(activity);
    this.user.push(user);
  }

  scratch(): Float32Array {
    return this.row;
  }

  build(): WindowRows {
    return {
      n: this.label.length,
      X: Float32Array.from(this.X),
      label: Float64Array.from(this.label),
      truth: Float64Array.from(this.truth),
      activity: Uint8Array.from(this.activity),
      user: Int32Array.from(this.user),
    };
  }
}

/** Demographics a gateway is told; resting HR and HRmax are left to estimation. */
export function demographicProfile(u: UserProfile): FeatureProfile {
  return { sex: u.sex, ageY: u.ageY, weightKg: u.weightKg, heightCm: u.heightCm };
}

export interface RunWindows {
  windows: RecordWindow[];
  /** True mean EE per window. */
  truth: Float64Array;
  /** Dominant true activity code per window. */
  activity: Uint8Array;
}

/** Simulates one device run and cuts it into windows, with the truth behind each window. */
export function simulateRunWindows(user: UserProfile, startMs: number, durationS: number, seed: number, windowing?: WindowingOptions): RunWindows {
  const kcal = new Float64Array(durationS);
  const act = new Uint8Array(durationS);
  const windower = new Windower(windowing);
  const windows: RecordWindow[] = [];
  for (const tick of simulateTicks(user, { startMs, durationS, seed, schedule: 'day' })) {
    kcal[tick.second] = tick.truth.kcalPerMin;
    act[tick.second] = tick.truth.activityCode;
    for (const r of tick.records) for (const w of windower.push(r)) windows.push(w);
  }
  for (const w of windower.flush()) windows.push(w);
  const truth = new Float64Array(windows.length);
  const activity = new Uint8Array(windows.length);
  const counts = new Int32Array(256);
  windows.forEach((w, k) => {
    // Second i covers [startMs + i·1000, +1000); windows start and end on whole seconds.
    const a = Math.max(0, Math.round((w.startMs - startMs) / 1000));
    const b = Math.min(durationS, Math.round((w.endMs - startMs) / 1000));
    let s = 0;
    counts.fill(0);
    for (let i = a; i < b; i++) {
      s += kcal[i];
      counts[act[i]]++;
    }
    truth[k] = b > a ? s / (b - a) : NaN;
    let best = 0;
    for (let c = 1; c < counts.length; c++) if (counts[c] > counts[best]) best = c;
    activity[k] = best;
  });
  return { windows, truth, activity };
}

export interface SimulateProgress {
  (done: number, total: number): void;
}

/**
 * Simulates the population's runs (the parts asked for; all by default). Users are made by
 * device-sim's makeUsers, clusters round-robin, so every cluster is represented in both user sets.
 */
export function simulatePopulation(opts: PopulationOptions, parts: readonly PopulationPart[] = ['train', 'evalDays', 'evalUsers'], progress?: SimulateProgress): Population {
  checkPopulationOptions(opts);
  const users = makeUsers({ count: opts.trainUsers + opts.heldOutUsers, seed: opts.seed });
  const train = new RowBuilder();
  const evalDays = new RowBuilder();
  const evalUsers = new RowBuilder();
  const runs: PopulationRun[] = [];

  type Job = { userIndex: number; startMs: number; days: number; into: RowBuilder; labelledOnly: boolean };
  const jobs: Job[] = [];
  const evalDayUsers = opts.evalDayUsers ?? opts.trainUsers;
  for (let u = 0; u < opts.trainUsers; u++) {
    if (parts.includes('train')) jobs.push({ userIndex: u, startMs: opts.startMs, days: opts.trainDays, into: train, labelledOnly: true });
    if (parts.includes('evalDays') && opts.evalDays > 0 && u < evalDayUsers) {
      jobs.push({ userIndex: u, startMs: opts.startMs + opts.trainDays * DAY_MS, days: opts.evalDays, into: evalDays, labelledOnly: false });
    }
  }
  if (parts.includes('evalUsers')) {
    for (let u = opts.trainUsers; u < users.length; u++) jobs.push({ userIndex: u, startMs: opts.startMs, days: opts.heldOutDays, into: evalUsers, labelledOnly: false });
  }

  jobs.forEach((job, k) => {
    const user = users[job.userIndex];
    const run = simulateRunWindows(user, job.startMs, job.days * 86_400, opts.seed, opts.windowing);
    const profile = resolveProfile(demographicProfile(user), estimateRestingHr(run.windows.map((w) => w.stats)));
    let labelled = 0;
    run.windows.forEach((w, i) => {
      if (w.label !== undefined) labelled++;
      if (job.labelledOnly && w.label === undefined) return;
      const row = featuresFromStats(w.stats, profile, job.into.scratch());
      job.into.add(row, w.label?.kcalPerMin ?? NaN, run.truth[i], run.activity[i], job.userIndex);
    });
    runs.push({ userIndex: job.userIndex, startMs: job.startMs, days: job.days, profile, windows: run.windows.length, labelled });
    progress?.(k + 1, jobs.length);
  });
  return { options: opts, users, train: train.build(), evalDays: evalDays.build(), evalUsers: evalUsers.build(), runs };
}

export function checkPopulationOptions(o: PopulationOptions): void {
  const int = (name: keyof PopulationOptions, v: unknown, min: number, max: number): void => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new RangeError(`population option ${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  };
  int('seed', o.seed, -(2 ** 31), 2 ** 31 - 1);
  int('trainUsers', o.trainUsers, 1, 10_000);
  int('trainDays', o.trainDays, 1, 365);
  int('evalDays', o.evalDays, 0, 365);
  if (o.evalDayUsers !== undefined) int('evalDayUsers', o.evalDayUsers, 0, o.trainUsers);
  int('heldOutUsers', o.heldOutUsers, 0, 10_000);
  int('heldOutDays', o.heldOutDays, 1, 365);
  int('startMs', o.startMs, 0, 8.64e15);
  if (o.startMs % DAY_MS !== 0) throw new RangeError(`population option startMs must be a UTC midnight, got ${new Date(o.startMs).toISOString()}`);
}

/** Cluster of each row, for per-cluster evaluation. */
export function rowClusters(rows: WindowRows, users: readonly UserProfile[]): ClusterName[] {
  return Array.from(rows.user, (u) => users[u].cluster);
}

/** Rows [indices] of a table, as a new table. */
export function selectRows(rows: WindowRows, keep: (i: number) => boolean): WindowRows {
  const idx: number[] = [];
  for (let i = 0; i < rows.n; i++) if (keep(i)) idx.push(i);
  const X = new Float32Array(idx.length * FEATURE_COUNT);
  idx.forEach((i, k) => X.set(rows.X.subarray(i * FEATURE_COUNT, (i + 1) * FEATURE_COUNT), k * FEATURE_COUNT));
  return {
    n: idx.length,
    X,
    label: Float64Array.from(idx, (i) => rows.label[i]),
    truth: Float64Array.from(idx, (i) => rows.truth[i]),
    activity: Uint8Array.from(idx, (i) => rows.activity[i]),
    user: Int32Array.from(idx, (i) => rows.user[i]),
  };
}
