/**
 * Simulated people and their wearables: a profile per user, drawn from the user's cluster with a
 * seeded stream, so the same (seed, index, cluster) always gives the same person.
 */
import { checkInt } from './check.ts';
import { CLUSTER_NAMES, clusterSpec, type ClusterName } from './clusters.ts';
import { mifflinStJeorRmr, tanakaHrMax, vo2FromKcalPerMin, type Sex } from './equations.ts';
import { makeRng } from './rng.ts';

export interface DeviceTraits {
  /** SD of the optical HR error at walking-level motion, bpm (2–8; scaled by motion per activity). */
  ppgNoiseSdBpm: number;
  /** Fraction of seconds with no skin contact at low motion (scaled up with vigorous arm movement). */
  dropoutRate: number;
  /** Mean length of a dropout episode, s. */
  dropoutMeanS: number;
  /** Multiplier on counted steps while stepping (1 = exact). */
  stepBias: number;
  /** Episodes per hour of stepping in which the optical HR locks onto the step cadence. */
  cadenceLockPerHour: number;
  /** Seconds between cumulative step-count records (1–5). */
  stepsIntervalS: number;
  /** Seconds between RR-interval records. */
  rrIntervalS: number;
  /** Battery percent lost per simulated day. */
  batteryDrainPerDay: number;
  model: string;
  firmware: [major: number, minor: number, patch: number];
  hardwareRevision: number;
}

/** Personal habits that shape schedules (drawn once per user from the cluster's ranges). */
export interface Habits {
  wakeHour: number;
  bedHour: number;
  walkSpeedMpm: number;
  runVo2r: number;
  rideVo2r: number;
  strengthMet: number;
}

export interface UserProfile {
  userId: string;
  /** uint32, unique within one makeUsers call. */
  deviceId: number;
  cluster: ClusterName;
  /** Seed this profile was drawn from; simulation streams mix it in too. */
  seed: number;
  sex: Sex;
  ageY: number;
  heightCm: number;
  weightKg: number;
  bmi: number;
  vo2maxMlKgMin: number;
  restingHrBpm: number;
  hrMaxBpm: number;
  /** Mifflin–St Jeor, kcal/day. */
  rmrKcalPerDay: number;
  /** The resting VO2 that burns RMR: RMR/1440 kcal/min at 5 kcal per litre O2. */
  vo2RestMlKgMin: number;
  /**
   * Personal metabolic factor multiplying true EE (log-normal, mean 1, SD about 10%). Heart rate
   * does not reveal it, so no population formula can know it: the reason personalization helps.
   */
  metabolicFactor: number;
  /** First-order time constants of EE and of the slow HR component, s (30–60). */
  eeTauS: number;
  hrTauS: number;
  /** HR drop during sleep below resting HR, bpm. */
  sleepHrDropBpm: number;
  /** RMSSD of RR intervals at rest, ms. */
  rmssdRestMs: number;
  habits: Habits;
  device: DeviceTraits;
}

export type ClusterChoice = readonly ClusterName[] | Readonly<Partial<Record<ClusterName, number>>>;

export interface MakeUsersOptions {
  count: number;
  seed: number;
  /** Names (round-robin in this order) or weights (deterministic apportionment). Default: all, round-robin. */
  clusters?: ClusterChoice;
  /** deviceId of the first user; the rest follow consecutively. Default 1. */
  firstDeviceId?: number;
}

const MAX_USERS = 100_000;

export function makeUsers(opts: MakeUsersOptions): UserProfile[] {
  const count = checkInt('count', opts.count, 1, MAX_USERS);
  const seed = checkInt('seed', opts.seed, -(2 ** 53 - 1), 2 ** 53 - 1);
  const firstDeviceId = checkInt('firstDeviceId', opts.firstDeviceId ?? 1, 0, 2 ** 32 - count);
  const assignment = assignClusters(count, opts.clusters ?? CLUSTER_NAMES);
  return assignment.map((cluster, i) => makeUser({ index: i, seed, cluster, deviceId: firstDeviceId + i }));
}

/**
 * Cluster per user index. A list is used round-robin. Weights are apportioned by largest remainder
 * (so 10 users at {a: 0.7, b: 0.3} are exactly 7 and 3) and interleaved by smooth weighted
 * round-robin, so any prefix of the users is close to the requested mix.
 */
export function assignClusters(count: number, choice: ClusterChoice): ClusterName[] {
  if (Array.isArray(choice)) {
    const names = choice as readonly string[];
    if (names.length === 0) throw new RangeError('clusters must name at least one cluster');
    for (const n of names) clusterSpec(n);
    return Array.from({ length: count }, (_, i) => names[i % names.length] as ClusterName);
  }
  const entries = Object.entries(choice as Record<string, number>);
  for (const [name, w] of entries) {
    clusterSpec(name);
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
      throw new RangeError(`cluster weight for "${name}" must be a finite number ≥ 0, got ${String(w)}`);
    }
  }
  const total = entries.reduce((s, [, w]) => s + w, 0);
  if (!(total > 0)) throw new RangeError('cluster weights must have a positive sum');
  const quotas = entries.map(([, w]) => (w / total) * count);
  const counts = quotas.map(Math.floor);
  const order = quotas
    .map((q, i) => ({ i, rem: q - Math.floor(q) }))
    .sort((a, b) => b.rem - a.rem || a.i - b.i);
  for (let k = 0, left = count - counts.reduce((s, c) => s + c, 0); k < left; k++) {
    const idx = order[k]!.i;
    counts[idx] = counts[idx]! + 1;
  }
  const current = counts.map(() => 0);
  const out: ClusterName[] = [];
  for (let n = 0; n < count; n++) {
    let best = -1;
    for (let i = 0; i < counts.length; i++) {
      current[i] = current[i]! + counts[i]!;
      if (counts[i]! > 0 && (best < 0 || current[i]! > current[best]!)) best = i;
    }
    current[best] = current[best]! - count;
    out.push(entries[best]![0] as ClusterName);
  }
  return out;
}

export interface MakeUserOptions {
  index: number;
  seed: number;
  cluster: ClusterName;
  deviceId: number;
  userId?: string;
}

export function makeUser(opts: MakeUserOptions): UserProfile {
  const spec = clusterSpec(opts.cluster);
  const rng = makeRng(opts.seed, 'user', opts.index, spec.name);
  const body = rng.fork('body');
  const sex: Sex = body.bernoulli(spec.maleFraction) ? 'male' : 'female';
  const ageY = body.int(spec.ageY[0], spec.ageY[1]);
  const heightCm = round1(sex === 'male' ? body.normalClamped(176, 7, 155, 200) : body.normalClamped(163, 6.5, 145, 185));
  const bmi = body.normalClamped(spec.bmi.mean, spec.bmi.sd, spec.bmi.min, spec.bmi.max);
  const weightKg = round1(bmi * (heightCm / 100) ** 2);

  const vo2maxMlKgMin = round1(
    Math.min(85, Math.max(18, vo2maxNorm(sex, ageY, bmi) + body.normal(spec.vo2maxOffset.mean, spec.vo2maxOffset.sd))),
  );
  // Fitter hearts beat slower at rest; women's resting HR runs a few bpm higher (notes: 50–80 typical).
  const restingHrBpm = round1(
    body.normalClamped(68 - 0.55 * (vo2maxMlKgMin - 40) + (sex === 'female' ? 3 : 0), 4, 40, 92),
  );
  // Tanaka et al. (2001) plus an individual offset (SD about 7 bpm), kept well above rest.
  const hrMaxBpm = round1(Math.min(215, Math.max(restingHrBpm + 70, tanakaHrMax(ageY) + body.normal(0, 7))));
  const rmrKcalPerDay = round1(mifflinStJeorRmr(sex, weightKg, heightCm, ageY));
  const vo2RestMlKgMin = vo2FromKcalPerMin(rmrKcalPerDay / 1440, weightKg);

  const dyn = rng.fork('dynamics');
  const metabolicFactor = dyn.factor(0.1);
  // Fitter people reach steady state faster (notes: 30–60 s at moderate intensity).
  const eeTauS = clamp(60 - 0.5 * (vo2maxMlKgMin - 25) + dyn.normal(0, 5), 30, 60);
  const hrTauS = clamp(55 - 0.4 * (vo2maxMlKgMin - 25) + dyn.normal(0, 6), 30, 60);
  const sleepHrDropBpm = dyn.uniform(4, 9);
  // RMSSD falls with age and rises with fitness; log-normal between people.
  const rmssdRestMs = clamp(
    dyn.lognormal(Math.log(Math.max(12, 75 - 0.7 * ageY + 0.4 * (vo2maxMlKgMin - 40))), 0.3),
    8,
    150,
  );

  const hab = rng.fork('habits');
  const habits: Habits = {
    wakeHour: hab.normalClamped(spec.wakeHour.mean, spec.wakeHour.sd, 4.5, 10),
    bedHour: hab.normalClamped(spec.bedHour.mean, spec.bedHour.sd, 20, 23.9),
    walkSpeedMpm: hab.uniform(spec.walkSpeedMpm[0], spec.walkSpeedMpm[1]),
    runVo2r: hab.uniform(spec.runVo2r[0], spec.runVo2r[1]),
    rideVo2r: hab.uniform(spec.rideVo2r[0], spec.rideVo2r[1]),
    strengthMet: hab.uniform(spec.strengthMet[0], spec.strengthMet[1]),
  };

  const dev = rng.fork('device');
  const device: DeviceTraits = {
    ppgNoiseSdBpm: dev.uniform(2, 8),
    dropoutRate: dev.uniform(0.005, 0.05),
    dropoutMeanS: dev.uniform(3, 10),
    stepBias: dev.normalClamped(1, 0.05, 0.85, 1.15),
    cadenceLockPerHour: dev.uniform(0.5, 4),
    stepsIntervalS: dev.int(1, 5),
    rrIntervalS: 5,
    batteryDrainPerDay: dev.uniform(8, 20),
    model: dev.pick(['FW-Band 2', 'FW-Band 2 Pro', 'FW-Ring 1']),
    firmware: [1, dev.int(2, 4), dev.int(0, 9)],
    hardwareRevision: dev.int(1, 4),
  };

  return {
    userId: opts.userId ?? `user-${String(opts.index).padStart(4, '0')}`,
    deviceId: opts.deviceId,
    cluster: spec.name,
    seed: opts.seed,
    sex,
    ageY,
    heightCm,
    weightKg,
    bmi: round1(weightKg / (heightCm / 100) ** 2),
    vo2maxMlKgMin,
    restingHrBpm,
    hrMaxBpm,
    rmrKcalPerDay,
    vo2RestMlKgMin,
    metabolicFactor,
    eeTauS,
    hrTauS,
    sleepHrDropBpm,
    rmssdRestMs,
    habits,
    device,
  };
}

/**
 * Untrained norm of VO2max (ml/kg/min) by sex and age: about 44 (men) and 37 (women) at 25, falling
 * 0.4 per year after 25 (notes: 0.3–0.5; untrained 30–45), and 0.4 per BMI unit above 25, since
 * VO2max is per kg of body mass.
 */
export function vo2maxNorm(sex: Sex, ageY: number, bmi: number): number {
  const at25 = sex === 'male' ? 44 : 37;
  return at25 - 0.4 * Math.max(0, ageY - 25) - 0.4 * Math.max(0, bmi - 25);
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
