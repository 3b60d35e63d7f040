/**
 * A time-ordered record stream of one device → feature windows, labelled where a reference energy
 * label covers them. The gateway and the pretraining/evaluation pipeline both use this.
 *
 * Windows partition time:
 * - every energyLabel (covering [ts − durationS·1000, ts), device-sim/device.ts) becomes exactly one
 *   window with that label, so training targets and features describe the same seconds;
 * - all other time is cut on a fixed grid of `windowS` seconds anchored at the Unix epoch, and a grid
 *   window that a label window overlaps is clipped to the unlabelled part. Fragments shorter than
 *   `minWindowS` are dropped (counted), so a window is never a sliver of a few seconds.
 * - empty windows (no heart-rate record and no step counter coverage) are skipped (counted).
 *
 * Streaming: a window is emitted once no later record can change it, i.e. once the stream has moved
 * `maxLabelS` past the window's end (a label arrives at the end of what it covers). Labels longer than
 * `maxLabelS`, overlapping another label or reaching back into time already emitted are rejected
 * (counted): the window they would need is gone.
 */
import type { DeviceRecord, EnergyLabelRecord, LabelSourceCode } from '../firmware-bindings/index.ts';
import {
  type FeatureProfile,
  type ResolvedProfile,
  type WindowStats,
  MAX_STEPS_GAP_S,
  estimateRestingHr,
  featuresFromStats,
  resolveProfile,
  windowStats,
} from './features.ts';

export interface WindowingOptions {
  /** Grid window length, s (default 60, the label length). */
  windowS?: number;
  /** Longest label accepted, s (default 300); also how far behind the stream windows are emitted. */
  maxLabelS?: number;
  /** Shortest grid fragment kept, s (default 15). */
  minWindowS?: number;
}

export interface WindowLabel {
  readonly kcalPerMin: number;
  readonly source: LabelSourceCode;
}

/** One window's signal summary, with its label if a label record defined it. */
export interface RecordWindow {
  readonly startMs: number;
  readonly endMs: number;
  readonly stats: WindowStats;
  readonly label?: WindowLabel;
}

/** A window with its model input. */
export interface FeatureWindow extends RecordWindow {
  readonly features: Float32Array;
}

export interface WindowerCounters {
  windows: number;
  labelledWindows: number;
  emptyWindows: number;
  shortFragments: number;
  labelsRejected: number;
  /** Records older than the last one seen (dropped: the stream must be time-ordered). */
  outOfOrder: number;
}

interface PendingLabel {
  startMs: number;
  endMs: number;
  label: WindowLabel;
}

const DEFAULTS = { windowS: 60, maxLabelS: 300, minWindowS: 15 } as const;

function checkPositiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`windowing option ${name} must be a positive integer, got ${String(v)}`);
  return v;
}

export class Windower {
  readonly windowMs: number;
  readonly maxLabelMs: number;
  readonly minWindowMs: number;
  readonly counters: WindowerCounters = { windows: 0, labelledWindows: 0, emptyWindows: 0, shortFragments: 0, labelsRejected: 0, outOfOrder: 0 };

  /** Signal records (HR, RR, steps) not yet behind the cursor, in time order. */
  private buf: DeviceRecord[] = [];
  private head = 0;
  private labels: PendingLabel[] = [];
  /** Everything before the cursor has been emitted or skipped. */
  private cursor = NaN;
  private lastTs = -Infinity;

  constructor(opts: WindowingOptions = {}) {
    const windowS = checkPositiveInt('windowS', opts.windowS ?? DEFAULTS.windowS);
    const maxLabelS = checkPositiveInt('maxLabelS', opts.maxLabelS ?? DEFAULTS.maxLabelS);
    const minWindowS = checkPositiveInt('minWindowS', opts.minWindowS ?? DEFAULTS.minWindowS);
    if (minWindowS > windowS) throw new RangeError(`windowing option minWindowS (${minWindowS}) must not exceed windowS (${windowS})`);
    this.windowMs = windowS * 1000;
    this.maxLabelMs = maxLabelS * 1000;
    this.minWindowMs = minWindowS * 1000;
  }

  /** Adds one record; returns the windows it completed (often none). */
  push(record: DeviceRecord): RecordWindow[] {
    const ts = record.timestampMs;
    if (ts < this.lastTs) {
      this.counters.outOfOrder++;
      return [];
    }
    if (Number.isNaN(this.cursor)) this.cursor = this.gridFloor(ts);
    this.lastTs = ts;
    if (record.type === 'energyLabel') this.addLabel(record);
    else if (record.type === 'heartRate' || record.type === 'rrIntervals' || record.type === 'steps') this.buf.push(record);
    return this.emit(false);
  }

  /** End of stream: emits everything up to the last record (the final window ends there). */
  flush(): RecordWindow[] {
    if (Number.isNaN(this.cursor)) return [];
    return this.emit(true);
  }

  private gridFloor(t: number): number {
    return Math.floor(t / this.windowMs) * this.windowMs;
  }

  private addLabel(r: EnergyLabelRecord): void {
    const durMs = r.durationS * 1000;
    const startMs = r.timestampMs - durMs;
    const prev = this.labels[this.labels.length - 1];
    const ok =
      r.durationS >= 1 &&
      durMs <= this.maxLabelMs &&
      Number.isFinite(r.kcalPerMin) &&
      r.kcalPerMin >= 0 &&
      startMs >= this.cursor &&
      (prev === undefined || startMs >= prev.endMs);
    if (!ok) {
      this.counters.labelsRejected++;
      return;
    }
    this.labels.push({ startMs, endMs: r.timestampMs, label: { kcalPerMin: r.kcalPerMin, source: r.source } });
  }

  private emit(final: boolean): RecordWindow[] {
    const out: RecordWindow[] = [];
    // Records stamped up to lastTs may still arrive (same timestamp); nothing older will.
    const complete = final ? Infinity : this.lastTs;
    // No unseen label can start before this (it would arrive at most maxLabelMs after its start).
    const safe = final ? Infinity : this.lastTs - this.maxLabelMs;
    const streamEnd = final ? this.lastTs : Infinity;
    for (;;) {
      const c = this.cursor;
      if (final && c >= streamEnd) break;
      const next = this.labels[0];
      if (next !== undefined && next.startMs === c) {
        if (!(next.endMs < complete)) break;
        this.labels.shift();
        this.close(c, next.endMs, next.label, out);
        continue;
      }
      let end = Math.min(this.gridFloor(c) + this.windowMs, streamEnd);
      if (next !== undefined && next.startMs < end) end = next.startMs;
      if (!(end <= safe && end < complete)) break;
      this.close(c, end, undefined, out);
    }
    this.trim();
    return out;
  }

  private close(startMs: number, endMs: number, label: WindowLabel | undefined, out: RecordWindow[]): void {
    this.cursor = endMs;
    if (label === undefined && endMs - startMs < this.minWindowMs) {
      this.counters.shortFragments++;
      return;
    }
    const stats = windowStats(this.slice(startMs, endMs), { startMs, endMs });
    if (stats === null) {
      this.counters.emptyWindows++;
      return;
    }
    this.counters.windows++;
    if (label !== undefined) {
      this.counters.labelledWindows++;
      out.push({ startMs, endMs, stats, label });
    } else {
      out.push({ startMs, endMs, stats });
    }
  }

  /** Buffered records that can matter for [startMs, endMs): in range, plus the steps baseline before it. */
  private slice(startMs: number, endMs: number): DeviceRecord[] {
    const b = this.buf;
    const lo = startMs - MAX_STEPS_GAP_S * 1000;
    let i = this.head;
    while (i < b.length && b[i].timestampMs <= lo) i++;
    let j = i;
    while (j < b.length && b[j].timestampMs <= endMs) j++;
    return b.slice(i, j);
  }

  /** Drops records no later window can use (older than one steps gap before the cursor). */
  private trim(): void {
    const lo = this.cursor - MAX_STEPS_GAP_S * 1000;
    const b = this.buf;
    while (this.head < b.length && b[this.head].timestampMs <= lo) this.head++;
    if (this.head > 4096 && this.head * 2 > b.length) {
      this.buf = b.slice(this.head);
      this.head = 0;
    }
  }
}

/** All windows of a finite, time-ordered record stream (one device). */
export function recordWindows(records: Iterable<DeviceRecord>, opts: WindowingOptions = {}): { windows: RecordWindow[]; counters: WindowerCounters } {
  const w = new Windower(opts);
  const windows: RecordWindow[] = [];
  for (const r of records) for (const win of w.push(r)) windows.push(win);
  for (const win of w.flush()) windows.push(win);
  return { windows, counters: { ...w.counters } };
}

export interface WindowRecordsOptions extends WindowingOptions {
  /**
   * Resting HR estimated from a longer history than these records (estimateRestingHr over the
   * gateway's stored windows). If absent and the profile has none, it is estimated from these windows.
   */
  restingHrEstimate?: number | null;
}

export interface WindowRecordsResult {
  windows: FeatureWindow[];
  profile: ResolvedProfile;
  counters: WindowerCounters;
}

/**
 * A time-ordered record stream and the wearer's profile → feature windows (start, end, features,
 * label if an energyLabel defined the window). Resting HR: the profile's, else `restingHrEstimate`,
 * else estimateRestingHr over these windows, else the default (see resolveProfile).
 */
export function windowRecords(records: Iterable<DeviceRecord>, profile: FeatureProfile, opts: WindowRecordsOptions = {}): WindowRecordsResult {
  const { windows, counters } = recordWindows(records, opts);
  const estimate =
    profile.restingHrBpm !== undefined ? undefined : opts.restingHrEstimate ?? estimateRestingHr(windows.map((w) => w.stats));
  const resolved = resolveProfile(profile, estimate);
  return { windows: attachFeatures(windows, resolved), profile: resolved, counters };
}

/** Feature rows for windows already cut (e.g. when the resting HR estimate changed). */
export function attachFeatures(windows: readonly RecordWindow[], profile: ResolvedProfile): FeatureWindow[] {
  return windows.map((w) => ({ ...w, features: featuresFromStats(w.stats, profile) }));
}
