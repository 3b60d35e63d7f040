/**
 * The activities a schedule is made of, and their fixed energy costs.
 *
 * Fixed MET values: Compendium of Physical Activities, Ainsworth et al. (2011),
 * Med Sci Sports Exerc 43(8):1575–1581 — sleeping 0.95, sitting quietly 1.3, office desk work 1.5,
 * stair climbing 4.0 (slow) to 8.8 (fast), resistance training 3.5 (moderate) to 6.0 (vigorous).
 * Walking and running use the ACSM equations instead (equations.ts); cycling is set as a fraction of
 * the rider's own VO2 reserve, because riders choose effort relative to fitness, not a fixed MET.
 */

export const ACTIVITY_KINDS = ['sleep', 'rest', 'desk', 'walking', 'running', 'cycling', 'stairs', 'strength'] as const;
export type ActivityKind = (typeof ACTIVITY_KINDS)[number];

/** Stable small integer per activity (index in ACTIVITY_KINDS), for typed-array truth. */
export function activityCode(kind: ActivityKind): number {
  return ACTIVITY_KINDS.indexOf(kind);
}

export function activityFromCode(code: number): ActivityKind {
  const kind = ACTIVITY_KINDS[code];
  if (kind === undefined) throw new RangeError(`unknown activity code ${code}`);
  return kind;
}

export function isActivityKind(x: unknown): x is ActivityKind {
  return typeof x === 'string' && (ACTIVITY_KINDS as readonly string[]).includes(x);
}

/** Gross MET ranges for the activities that are not set by speed or by relative effort. */
export const FIXED_MET = {
  sleep: [0.95, 0.95],
  rest: [1.0, 1.0],
  desk: [1.3, 1.5],
  stairs: [4.0, 8.8],
  strength: [3.5, 6.0],
} as const satisfies Record<string, readonly [number, number]>;

/** Gross MET between strength sets (standing, recovering). */
export const STRENGTH_REST_MET = 1.8;
/** A strength bout alternates work sets and rests: 40 s of work in every 120 s. */
export const STRENGTH_WORK_S = 40;
export const STRENGTH_CYCLE_S = 120;

/** Stair climbing cadence, steps per minute (about one step per stair at an ordinary pace). */
export const STAIRS_CADENCE_SPM = 85;

/**
 * Running cadence (steps/min) rises slowly with speed (m/min); recreational runners sit at about
 * 150–190 steps/min. A rule of thumb, not a cited fit.
 */
export function runningCadenceSpm(speedMpm: number): number {
  return Math.min(195, Math.max(150, 140 + 0.15 * speedMpm));
}

/** Activities during which the wrist moves rhythmically with the steps (cadence lock possible). */
export function isStepping(kind: ActivityKind): boolean {
  return kind === 'walking' || kind === 'running' || kind === 'stairs';
}
