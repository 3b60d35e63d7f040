/**
 * Named groups of simulated users. They differ in physiology (age, BMI, fitness) and in what a day
 * holds, so evaluation can report per cluster and federated learning sees non-IID clients.
 */

export const CLUSTER_NAMES = [
  'sedentary-older',
  'active-young',
  'endurance-runners',
  'cyclists',
  'high-bmi-walkers',
] as const;
export type ClusterName = (typeof CLUSTER_NAMES)[number];

export type Range = readonly [min: number, max: number];

/** A planned exercise bout that happens on a day with probability `perDay`. */
export interface SessionSpec {
  activity: 'walking' | 'running' | 'cycling' | 'stairs' | 'strength';
  perDay: number;
  /** minutes */
  durationMin: Range;
  /** Hours of the day (UTC) within which the session starts. */
  startHour: Range;
}

export interface ClusterSpec {
  name: ClusterName;
  description: string;
  ageY: Range;
  maleFraction: number;
  bmi: { mean: number; sd: number; min: number; max: number };
  /** ml/kg/min added to the age-and-sex norm (users.ts): fitness relative to the untrained norm. */
  vo2maxOffset: { mean: number; sd: number };
  /** Habitual wake and bed times (hours, UTC) and their between-person spread. */
  wakeHour: { mean: number; sd: number };
  bedHour: { mean: number; sd: number };
  /** Preferred walking speed, m/min (ACSM walking equation is valid for about 50–100). */
  walkSpeedMpm: Range;
  /** Share of walks that go uphill (grade 2–8%). */
  hillFraction: number;
  /** Running and riding effort as a fraction of VO2 reserve (Swain & Leutholtz 1997). */
  runVo2r: Range;
  rideVo2r: Range;
  /** Gross MET of strength work sets. */
  strengthMet: Range;
  sessions: readonly SessionSpec[];
  /** Relative weights of the short bouts that fill the waking day between sessions. */
  filler: { desk: number; rest: number; walking: number; stairs: number };
  /** Share of planned sessions that carry a reference EE (chest strap or gym equipment). */
  labelledFraction: number;
}

export const CLUSTERS: Readonly<Record<ClusterName, ClusterSpec>> = {
  'sedentary-older': {
    name: 'sedentary-older',
    description: 'Retired adults 60–75, mostly sitting, short slow walks, occasional light strength work',
    ageY: [60, 75],
    maleFraction: 0.45,
    bmi: { mean: 27.5, sd: 3.5, min: 20, max: 38 },
    vo2maxOffset: { mean: -1, sd: 4 },
    wakeHour: { mean: 6.5, sd: 0.5 },
    bedHour: { mean: 22.0, sd: 0.6 },
    walkSpeedMpm: [60, 82],
    hillFraction: 0.1,
    runVo2r: [0.5, 0.6],
    rideVo2r: [0.35, 0.5],
    strengthMet: [3.5, 4.0],
    sessions: [
      { activity: 'walking', perDay: 0.6, durationMin: [20, 45], startHour: [9, 17] },
      { activity: 'strength', perDay: 0.15, durationMin: [20, 40], startHour: [9, 12] },
    ],
    filler: { desk: 0.55, rest: 0.3, walking: 0.12, stairs: 0.03 },
    labelledFraction: 0.25,
  },
  'active-young': {
    name: 'active-young',
    description: 'Students and young workers 18–35: desk days with brisk walks, runs, gym and bike commutes',
    ageY: [18, 35],
    maleFraction: 0.5,
    bmi: { mean: 23, sd: 2.5, min: 17.5, max: 32 },
    vo2maxOffset: { mean: 4, sd: 5 },
    wakeHour: { mean: 7.5, sd: 0.8 },
    bedHour: { mean: 23.5, sd: 0.6 },
    walkSpeedMpm: [80, 100],
    hillFraction: 0.2,
    runVo2r: [0.55, 0.75],
    rideVo2r: [0.4, 0.6],
    strengthMet: [5.0, 6.0],
    sessions: [
      { activity: 'running', perDay: 0.35, durationMin: [20, 45], startHour: [6.5, 20] },
      { activity: 'strength', perDay: 0.35, durationMin: [40, 70], startHour: [16, 20] },
      { activity: 'cycling', perDay: 0.25, durationMin: [15, 35], startHour: [7.5, 9] },
      { activity: 'walking', perDay: 0.6, durationMin: [15, 40], startHour: [10, 21] },
    ],
    filler: { desk: 0.6, rest: 0.15, walking: 0.2, stairs: 0.05 },
    labelledFraction: 0.3,
  },
  'endurance-runners': {
    name: 'endurance-runners',
    description: 'Trained runners 22–55: a long run most days, high VO2max, low resting HR',
    ageY: [22, 55],
    maleFraction: 0.6,
    bmi: { mean: 21.5, sd: 1.7, min: 17.5, max: 26 },
    vo2maxOffset: { mean: 16, sd: 5 },
    wakeHour: { mean: 6.0, sd: 0.5 },
    bedHour: { mean: 22.5, sd: 0.5 },
    walkSpeedMpm: [82, 100],
    hillFraction: 0.2,
    runVo2r: [0.6, 0.85],
    rideVo2r: [0.45, 0.65],
    strengthMet: [4.5, 5.5],
    sessions: [
      { activity: 'running', perDay: 0.85, durationMin: [40, 100], startHour: [6.25, 19] },
      { activity: 'strength', perDay: 0.2, durationMin: [30, 45], startHour: [17, 20] },
      { activity: 'walking', perDay: 0.4, durationMin: [15, 30], startHour: [11, 20] },
    ],
    filler: { desk: 0.55, rest: 0.2, walking: 0.2, stairs: 0.05 },
    labelledFraction: 0.4,
  },
  cyclists: {
    name: 'cyclists',
    description: 'Road and indoor cyclists 25–60: long rides (effort without steps), desk days, few steps',
    ageY: [25, 60],
    maleFraction: 0.7,
    bmi: { mean: 23.5, sd: 2.0, min: 18.5, max: 29 },
    vo2maxOffset: { mean: 12, sd: 5 },
    wakeHour: { mean: 6.5, sd: 0.5 },
    bedHour: { mean: 23.0, sd: 0.5 },
    walkSpeedMpm: [75, 92],
    hillFraction: 0.1,
    runVo2r: [0.55, 0.7],
    rideVo2r: [0.5, 0.8],
    strengthMet: [4.5, 5.5],
    sessions: [
      { activity: 'cycling', perDay: 0.8, durationMin: [60, 150], startHour: [6.75, 18] },
      { activity: 'strength', perDay: 0.15, durationMin: [30, 45], startHour: [17, 20] },
      { activity: 'walking', perDay: 0.15, durationMin: [10, 20], startHour: [12, 19] },
    ],
    filler: { desk: 0.7, rest: 0.2, walking: 0.08, stairs: 0.02 },
    labelledFraction: 0.45,
  },
  'high-bmi-walkers': {
    name: 'high-bmi-walkers',
    description: 'Adults 30–65 with BMI ≥ 30 who walk for exercise, often on hills, and take stairs',
    ageY: [30, 65],
    maleFraction: 0.45,
    bmi: { mean: 34, sd: 3.5, min: 30, max: 45 },
    vo2maxOffset: { mean: -2, sd: 4 },
    wakeHour: { mean: 6.75, sd: 0.6 },
    bedHour: { mean: 23.0, sd: 0.6 },
    walkSpeedMpm: [65, 90],
    hillFraction: 0.35,
    runVo2r: [0.5, 0.65],
    rideVo2r: [0.35, 0.55],
    strengthMet: [3.5, 5.0],
    sessions: [
      { activity: 'walking', perDay: 0.85, durationMin: [30, 60], startHour: [7, 20] },
      { activity: 'walking', perDay: 0.3, durationMin: [20, 40], startHour: [12, 20] },
      { activity: 'stairs', perDay: 0.3, durationMin: [2, 5], startHour: [8, 18] },
      { activity: 'strength', perDay: 0.1, durationMin: [20, 40], startHour: [17, 20] },
    ],
    filler: { desk: 0.6, rest: 0.25, walking: 0.12, stairs: 0.03 },
    labelledFraction: 0.3,
  },
};

export function isClusterName(x: unknown): x is ClusterName {
  return typeof x === 'string' && (CLUSTER_NAMES as readonly string[]).includes(x);
}

export function clusterSpec(name: string): ClusterSpec {
  if (!isClusterName(name)) {
    throw new RangeError(`unknown cluster "${name}"; known clusters: ${CLUSTER_NAMES.join(', ')}`);
  }
  return CLUSTERS[name];
}
