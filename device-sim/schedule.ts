/**
 * Schedules: what a user does, second by second, as a list of contiguous bouts.
 *
 * 'day' mode follows the UTC clock: sleep, the cluster's planned sessions at their usual hours, and
 * short filler bouts (desk, rest, walks, stairs) in between. A day's plan depends only on
 * (sim seed, user, day number), so overlapping simulation windows agree about it.
 * 'session' mode ignores the clock: a short rest, then the cluster's sessions back to back with
 * short breaks. It is for demos and tests that run minutes, not days.
 */
import { FIXED_MET, isActivityKind, type ActivityKind } from './activities.ts';
import { checkInt } from './check.ts';
import { clusterSpec, type SessionSpec } from './clusters.ts';
import { makeRng, type Rng } from './rng.ts';
import type { UserProfile } from './users.ts';
import { LabelSource, type LabelSourceCode } from '../firmware-bindings/index.ts';

export interface Bout {
  activity: ActivityKind;
  /** Seconds from the start of the simulation. */
  startS: number;
  durationS: number;
  /** walking, running: speed (m/min) and grade (fraction, ≥ 0). */
  speedMpm?: number;
  grade?: number;
  /** cycling: effort as a fraction of the user's VO2 reserve. */
  vo2rFraction?: number;
  /** sleep, rest, desk, stairs, strength: gross MET (strength: during work sets). */
  met?: number;
  /** A reference EE (chest strap, gym equipment, lab) is recorded during this bout. */
  labelled: boolean;
  labelSource?: LabelSourceCode;
}

export type ScheduleMode = 'day' | 'session';

export interface ScheduleOptions {
  startMs: number;
  durationS: number;
  seed: number;
  mode: ScheduleMode;
}

const DAY_S = 86_400;
const DAY_MS = DAY_S * 1000;
/** Share of rest and desk bouts measured in a lab (indirect calorimetry at rest). */
const LAB_REST_FRACTION = 0.01;

/** Default mode: the clock matters for a day-scale simulation, not for a short session. */
export function defaultScheduleMode(durationS: number): ScheduleMode {
  return durationS >= 6 * 3600 ? 'day' : 'session';
}

export function makeSchedule(user: UserProfile, opts: ScheduleOptions): Bout[] {
  const bouts = opts.mode === 'day' ? daySchedule(user, opts) : sessionSchedule(user, opts);
  return mergeNeighbours(bouts);
}

function daySchedule(user: UserProfile, opts: ScheduleOptions): Bout[] {
  const endMs = opts.startMs + opts.durationS * 1000;
  const out: Bout[] = [];
  for (let day = Math.floor(opts.startMs / DAY_MS); day * DAY_MS < endMs; day++) {
    const rng = makeRng(opts.seed, 'schedule-day', user.deviceId, user.seed, day);
    const offsetS = Math.round((day * DAY_MS - opts.startMs) / 1000);
    for (const b of planDay(user, rng)) {
      const from = Math.max(0, b.startS + offsetS);
      const to = Math.min(opts.durationS, b.startS + b.durationS + offsetS);
      if (to > from) out.push({ ...b, startS: from, durationS: to - from });
    }
  }
  return out;
}

/** One UTC day, in seconds from its midnight. */
function planDay(user: UserProfile, rng: Rng): Bout[] {
  const spec = clusterSpec(user.cluster);
  const wakeS = Math.round(3600 * clampNum(user.habits.wakeHour + rng.normal(0, 0.4), 4, 11));
  const bedS = Math.round(3600 * clampNum(user.habits.bedHour + rng.normal(0, 0.4), 19.5, 23.95));

  const planned: Bout[][] = [];
  for (const s of spec.sessions) {
    if (!rng.bernoulli(s.perDay)) continue;
    const durS = Math.round(60 * rng.uniform(s.durationMin[0], s.durationMin[1]));
    const earliest = Math.max(wakeS + 900, Math.round(3600 * s.startHour[0]));
    const latest = Math.min(bedS - 900 - durS, Math.round(3600 * s.startHour[1]));
    if (latest < earliest) continue;
    for (let attempt = 0; attempt < 6; attempt++) {
      const startS = rng.int(earliest, latest);
      const clash = planned.some((p) => overlaps(startS - 600, startS + durS + 600, p));
      if (!clash) {
        planned.push(sessionBouts(user, s, startS, durS, rng));
        break;
      }
    }
  }
  planned.sort((a, b) => a[0]!.startS - b[0]!.startS);

  const out: Bout[] = [{ activity: 'sleep', startS: 0, durationS: wakeS, met: FIXED_MET.sleep[0], labelled: false }];
  let t = wakeS;
  for (const session of planned) {
    const s0 = session[0]!.startS;
    out.push(...fillerBouts(user, t, s0, rng));
    out.push(...session);
    const last = session[session.length - 1]!;
    t = last.startS + last.durationS;
  }
  out.push(...fillerBouts(user, t, bedS, rng));
  out.push({ activity: 'sleep', startS: bedS, durationS: DAY_S - bedS, met: FIXED_MET.sleep[0], labelled: false });
  return out.filter((b) => b.durationS > 0);
}

function sessionSchedule(user: UserProfile, opts: ScheduleOptions): Bout[] {
  const spec = clusterSpec(user.cluster);
  const rng = makeRng(opts.seed, 'schedule-session', user.deviceId, user.seed, opts.startMs);
  const out: Bout[] = [];
  let t = 0;
  const push = (bouts: Bout[]): void => {
    for (const b of bouts) {
      if (b.startS >= opts.durationS) return;
      out.push({ ...b, durationS: Math.min(b.durationS, opts.durationS - b.startS) });
    }
  };
  const restS = rng.int(120, 240);
  push([{ activity: 'rest', startS: 0, durationS: restS, met: FIXED_MET.rest[0], labelled: false }]);
  t = restS;
  while (t < opts.durationS) {
    const s = spec.sessions[rng.weightedIndex(spec.sessions.map((x) => x.perDay))]!;
    const durS = Math.round(60 * rng.uniform(s.durationMin[0], s.durationMin[1]));
    push(sessionBouts(user, s, t, durS, rng));
    t += durS;
    const breakS = rng.int(180, 480);
    push(fillerBouts(user, t, t + breakS, rng, { walking: 1, rest: 1, desk: 0, stairs: 0 }));
    t += breakS;
  }
  return out;
}

/** A planned session split into segments of varying speed, grade or effort. */
function sessionBouts(user: UserProfile, s: SessionSpec, startS: number, durS: number, rng: Rng): Bout[] {
  const spec = clusterSpec(user.cluster);
  const labelled = rng.bernoulli(spec.labelledFraction);
  const labelSource = !labelled ? undefined : labelSourceFor(s.activity, rng);
  const label = labelled ? { labelled, labelSource } : { labelled };
  if (s.activity === 'strength') {
    return [{ activity: 'strength', startS, durationS: durS, met: user.habits.strengthMet, ...label }];
  }
  if (s.activity === 'stairs') {
    return [{ activity: 'stairs', startS, durationS: durS, met: rng.uniform(FIXED_MET.stairs[0], FIXED_MET.stairs[1]), ...label }];
  }
  const out: Bout[] = [];
  let t = startS;
  const end = startS + durS;
  let first = true;
  while (t < end) {
    const segS = Math.min(end - t, first ? Math.min(300, rng.int(120, 300)) : rng.int(300, 900));
    // A gentler first segment: people warm up.
    const ease = first ? 0.8 : 1;
    const params = movingParams(user, s.activity, spec.hillFraction, ease, rng);
    out.push({ activity: s.activity, startS: t, durationS: segS, ...params, ...label });
    t += segS;
    first = false;
  }
  return out;
}

function movingParams(
  user: UserProfile,
  activity: 'walking' | 'running' | 'cycling',
  hillFraction: number,
  ease: number,
  rng: Rng,
): Pick<Bout, 'speedMpm' | 'grade' | 'vo2rFraction'> {
  if (activity === 'cycling') {
    return { vo2rFraction: round3(clampNum(user.habits.rideVo2r * ease * rng.normal(1, 0.08), 0.25, 0.92)) };
  }
  if (activity === 'walking') {
    const grade = rng.bernoulli(hillFraction) ? round3(rng.uniform(0.02, 0.08)) : 0;
    // People slow down on hills.
    const speed = user.habits.walkSpeedMpm * ease * rng.normal(1, 0.05) * (1 - 2 * grade);
    return { speedMpm: round1(clampNum(speed, 50, 105)), grade };
  }
  // Runners pace by effort: the speed whose ACSM cost is their chosen share of VO2 reserve.
  const grade = rng.bernoulli(0.2) ? round3(rng.uniform(0.01, 0.05)) : 0;
  const vo2r = clampNum(user.habits.runVo2r * ease * rng.normal(1, 0.05), 0.35, 0.95);
  const netVo2 = vo2r * (user.vo2maxMlKgMin - user.vo2RestMlKgMin);
  const speed = netVo2 / (0.2 + 0.9 * grade);
  return { speedMpm: round1(clampNum(speed, 110, 400)), grade };
}

function labelSourceFor(activity: SessionSpec['activity'], rng: Rng): LabelSourceCode {
  switch (activity) {
    case 'cycling':
    case 'stairs':
      // Indoor trainers and stair machines measure work; outdoor rides use a chest strap.
      return activity === 'stairs' || rng.bernoulli(0.5) ? LabelSource.GymEquipment : LabelSource.ChestStrap;
    default:
      return LabelSource.ChestStrap;
  }
}

type FillerWeights = { desk: number; rest: number; walking: number; stairs: number };

function fillerBouts(user: UserProfile, from: number, to: number, rng: Rng, weights?: FillerWeights): Bout[] {
  const spec = clusterSpec(user.cluster);
  const w = weights ?? spec.filler;
  const kinds = ['desk', 'rest', 'walking', 'stairs'] as const;
  const out: Bout[] = [];
  let t = from;
  while (t < to) {
    const kind = kinds[rng.weightedIndex(kinds.map((k) => w[k]))]!;
    let durS: number;
    let bout: Omit<Bout, 'startS' | 'durationS'>;
    if (kind === 'desk' || kind === 'rest') {
      durS = Math.round(60 * (kind === 'desk' ? rng.uniform(15, 90) : rng.uniform(5, 30)));
      const met = kind === 'desk' ? round3(rng.uniform(FIXED_MET.desk[0], FIXED_MET.desk[1])) : FIXED_MET.rest[0];
      bout = rng.bernoulli(LAB_REST_FRACTION)
        ? { activity: kind, met, labelled: true, labelSource: LabelSource.Lab }
        : { activity: kind, met, labelled: false };
    } else if (kind === 'walking') {
      durS = Math.round(60 * rng.uniform(3, 15));
      bout = { activity: 'walking', ...movingParams(user, 'walking', spec.hillFraction, 1, rng), labelled: false };
    } else {
      durS = rng.int(30, 120);
      bout = { activity: 'stairs', met: round3(rng.uniform(FIXED_MET.stairs[0], FIXED_MET.stairs[1])), labelled: false };
    }
    durS = Math.min(durS, to - t);
    out.push({ ...bout, startS: t, durationS: durS });
    t += durS;
  }
  return out;
}

/** Joins neighbouring bouts that are identical but for their times (e.g. two desk spells). */
function mergeNeighbours(bouts: Bout[]): Bout[] {
  const out: Bout[] = [];
  for (const b of bouts) {
    const prev = out[out.length - 1];
    if (prev && sameExceptTime(prev, b) && prev.startS + prev.durationS === b.startS) {
      prev.durationS += b.durationS;
    } else {
      out.push({ ...b });
    }
  }
  return out;
}

function sameExceptTime(a: Bout, b: Bout): boolean {
  return (
    a.activity === b.activity &&
    a.speedMpm === b.speedMpm &&
    a.grade === b.grade &&
    a.vo2rFraction === b.vo2rFraction &&
    a.met === b.met &&
    a.labelled === b.labelled &&
    a.labelSource === b.labelSource &&
    // Labelled bouts stay separate: their 60-s label windows are aligned to each bout's start.
    !a.labelled
  );
}

/**
 * Checks a caller-supplied schedule: contiguous bouts from 0 to durationS with the parameters their
 * activity needs. Errors name the bout index and the field.
 */
export function checkSchedule(bouts: readonly Bout[], durationS: number): Bout[] {
  if (!Array.isArray(bouts) || bouts.length === 0) throw new RangeError('schedule must be a non-empty array of bouts');
  let t = 0;
  const out = bouts.map((b, i) => {
    const at = `schedule[${i}]`;
    if (!isActivityKind(b.activity)) throw new RangeError(`${at}.activity: unknown activity ${JSON.stringify(b.activity)}`);
    checkInt(`${at}.startS`, b.startS, 0, durationS);
    checkInt(`${at}.durationS`, b.durationS, 1, durationS);
    if (b.startS !== t) throw new RangeError(`${at}.startS must be ${t} (bouts are contiguous from 0), got ${b.startS}`);
    t += b.durationS;
    const need = (field: keyof Bout, min: number, max: number): void => {
      const v = b[field];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
        throw new RangeError(`${at}.${field} must be a number in [${min}, ${max}] for ${b.activity}, got ${String(v)}`);
      }
    };
    if (b.activity === 'walking' || b.activity === 'running') {
      need('speedMpm', b.activity === 'walking' ? 20 : 80, b.activity === 'walking' ? 150 : 500);
      if (b.grade !== undefined) need('grade', 0, 0.3);
    } else if (b.activity === 'cycling') {
      need('vo2rFraction', 0, 1);
    } else if (b.met !== undefined) {
      need('met', 0.9, 15);
    }
    if (typeof b.labelled !== 'boolean') throw new RangeError(`${at}.labelled must be a boolean`);
    if (b.labelled && !Object.values(LabelSource).includes(b.labelSource as LabelSourceCode)) {
      throw new RangeError(`${at}.labelSource must be one of ${Object.values(LabelSource).join(', ')} on a labelled bout`);
    }
    return { ...b };
  });
  if (t !== durationS) throw new RangeError(`schedule covers ${t} s but durationS is ${durationS}`);
  return out;
}

function overlaps(from: number, to: number, session: Bout[]): boolean {
  const s0 = session[0]!.startS;
  const last = session[session.length - 1]!;
  return from < last.startS + last.durationS && s0 < to;
}

function clampNum(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
