/** Options of one simulation run, checked once, with errors that name the field. */
import { checkInt, checkNumber } from './check.ts';
import { checkSchedule, defaultScheduleMode, makeSchedule, type Bout, type ScheduleMode } from './schedule.ts';
import type { UserProfile } from './users.ts';

export interface SimOptions {
  /** Start of the simulation, ms since the Unix epoch. */
  startMs: number;
  /** Simulated seconds (integer). */
  durationS: number;
  /** Integer seed; with the user's own seed it fixes every draw. */
  seed: number;
  /**
   * 'day' (follow the UTC clock: sleep, sessions at their usual hours), 'session' (no clock: a short
   * rest then the cluster's sessions back to back), or an explicit list of bouts.
   * Default: 'day' for runs of 6 h or more, else 'session'.
   */
  schedule?: ScheduleMode | readonly Bout[];
  /** Sequence number of the first record (default 0); it wraps at 2^32. */
  firstSeq?: number;
  /** Step count at the start (default 0); it wraps at 2^32. */
  initialSteps?: number;
  /** Relative SD of the reference-EE label noise (default 0.05). */
  labelNoise?: number;
}

export interface ResolvedSimOptions {
  startMs: number;
  durationS: number;
  seed: number;
  schedule: ScheduleMode | readonly Bout[];
  firstSeq: number;
  initialSteps: number;
  labelNoise: number;
}

/** Longest run accepted: a bit over a year. */
export const MAX_DURATION_S = 400 * 86_400;

export function resolveSimOptions(opts: SimOptions): ResolvedSimOptions {
  if (opts === null || typeof opts !== 'object') throw new TypeError('simulation options must be an object');
  const durationS = checkInt('durationS', opts.durationS, 1, MAX_DURATION_S);
  const startMs = checkInt('startMs', opts.startMs, 0, Number.MAX_SAFE_INTEGER - (durationS + 1) * 1000);
  const seed = checkInt('seed', opts.seed, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  let schedule: ScheduleMode | readonly Bout[];
  if (opts.schedule === undefined) schedule = defaultScheduleMode(durationS);
  else if (opts.schedule === 'day' || opts.schedule === 'session') schedule = opts.schedule;
  else if (Array.isArray(opts.schedule)) schedule = checkSchedule(opts.schedule, durationS);
  else throw new RangeError(`schedule must be 'day', 'session' or an array of bouts, got ${JSON.stringify(opts.schedule)}`);
  return {
    startMs,
    durationS,
    seed,
    schedule,
    firstSeq: checkInt('firstSeq', opts.firstSeq ?? 0, 0, 2 ** 32 - 1),
    initialSteps: checkInt('initialSteps', opts.initialSteps ?? 0, 0, 2 ** 32 - 1),
    labelNoise: checkNumber('labelNoise', opts.labelNoise ?? 0.05, 0, 0.5),
  };
}

export function boutsFor(user: UserProfile, o: ResolvedSimOptions): Bout[] {
  if (typeof o.schedule !== 'string') return o.schedule.map((b) => ({ ...b }));
  return makeSchedule(user, { startMs: o.startMs, durationS: o.durationS, seed: o.seed, mode: o.schedule });
}
