/**
 * Records → windows → examples, kept on the gateway. Each device's time-ordered records go through
 * models/'s Windower (the one windowing function); every window is appended to a second log,
 * `<dataDir>/windows/` (a SegmentLog of JSON lines: device, start, end, the window's signal stats
 * and its label if a reference label defined it).
 *
 * Why a log of windows rather than windowing the record store on demand: a round would otherwise
 * re-read and re-window the whole history (O(history) per round, on an SD card); the window log is
 * ~1/30 of the records. Stats are stored, not feature rows: features depend on the profile, whose
 * resting-HR estimate moves as history grows (models/README.md), so rows are rebuilt from stats
 * (featuresFromStats) whenever they are used.
 *
 * Restart: the windowers' state lives in memory. On open, the last persisted window end per device
 * is read back, and the service replays the record store's tail (RecordStore.readSince) through
 * fresh windowers; windows that end at or before that point were persisted already and are skipped.
 * The log is flushed right after the record store, so a persisted window's records are durable too.
 */
import { EventEmitter } from 'node:events';
import type { DeviceRecord } from '../../firmware-bindings/index.ts';
import {
  MAX_STEPS_GAP_S,
  Windower,
  estimateRestingHr,
  featuresFromStats,
  resolveProfile,
  FEATURE_COUNT,
  type FeatureProfile,
  type ResolvedProfile,
  type WindowLabel,
  type WindowStats,
  type WindowingOptions,
} from '../../models/index.ts';
import { SegmentLog } from '../store/index.ts';

export interface StoredWindow {
  deviceId: number;
  startMs: number;
  endMs: number;
  stats: WindowStats;
  label?: WindowLabel;
}

export interface LocalDataOptions {
  windowing: Required<WindowingOptions>;
  profile: FeatureProfile;
  /** Most recent labelled windows kept for training. */
  maxExamples: number;
  /** Most recent windows kept for the resting-HR estimate (default two weeks of 60-s windows). */
  restingHistory?: number;
}

export interface LocalDataEvents {
  window: [window: StoredWindow];
}

interface WindowLine {
  d: number;
  s: number;
  e: number;
  st: WindowStats;
  l?: WindowLabel;
}

/** Re-estimate the resting HR after this many new windows (it moves slowly; the sort is not free). */
const RESTING_REFRESH_WINDOWS = 30;

export class LocalData extends EventEmitter<LocalDataEvents> {
  private readonly log: SegmentLog;
  private readonly windowers = new Map<number, Windower>();
  /** Last persisted window end per device: replayed windows up to here are skipped. */
  private readonly persistedEnd = new Map<number, number>();
  private readonly lastEndByDevice = new Map<number, number>();
  private readonly labelled: StoredWindow[] = [];
  private readonly history: WindowStats[] = [];
  private readonly restingHistory: number;
  private profileCache: ResolvedProfile | null = null;
  private windowsSinceEstimate = 0;
  windowCount = 0;
  labelledTotal = 0;

  private constructor(dir: string, private readonly opts: LocalDataOptions) {
    super();
    this.restingHistory = opts.restingHistory ?? 14 * 1440;
    this.log = SegmentLog.open(dir);
    for (const body of SegmentLog.readAll(dir)) this.remember(lineToWindow(JSON.parse(body.toString('utf8')) as WindowLine));
    for (const [d, end] of this.lastEndByDevice) this.persistedEnd.set(d, end);
    // Resolve once now so a bad profile fails at start, naming the field.
    this.resolvedProfile();
  }

  static open(dir: string, opts: LocalDataOptions): LocalData {
    return new LocalData(dir, opts);
  }

  /**
   * Where to start replaying records after a restart: early enough that the windowers see every
   * record that can shape a window after the last persisted one (a label reaches back maxLabelS, a
   * cadence needs the steps sample before its window). Null: nothing persisted, replay everything.
   */
  replaySinceMs(): number | null {
    if (this.persistedEnd.size === 0) return null;
    const earliest = Math.min(...this.persistedEnd.values());
    const w = this.opts.windowing;
    const back = (w.maxLabelS + w.windowS + MAX_STEPS_GAP_S + 60) * 1000;
    return Math.floor(earliest / (w.windowS * 1000)) * w.windowS * 1000 - back;
  }

  /** One record of one device; returns the new windows it completed (also emitted as 'window'). */
  push(record: DeviceRecord): StoredWindow[] {
    let w = this.windowers.get(record.deviceId);
    if (!w) {
      w = new Windower(this.opts.windowing);
      this.windowers.set(record.deviceId, w);
    }
    const out: StoredWindow[] = [];
    for (const rw of w.push(record)) {
      const done = this.persistedEnd.get(record.deviceId);
      if (done !== undefined && rw.startMs < done) continue; // persisted before the restart
      const win: StoredWindow = { deviceId: record.deviceId, startMs: rw.startMs, endMs: rw.endMs, stats: rw.stats, ...(rw.label ? { label: rw.label } : {}) };
      const line: WindowLine = { d: win.deviceId, s: win.startMs, e: win.endMs, st: win.stats, ...(win.label ? { l: win.label } : {}) };
      this.log.append(Buffer.from(JSON.stringify(line), 'utf8'));
      this.remember(win);
      out.push(win);
    }
    for (const win of out) this.emit('window', win);
    return out;
  }

  private remember(win: StoredWindow): void {
    this.windowCount++;
    this.lastEndByDevice.set(win.deviceId, Math.max(this.lastEndByDevice.get(win.deviceId) ?? -Infinity, win.endMs));
    if (win.label) {
      this.labelledTotal++;
      this.labelled.push(win);
      if (this.labelled.length > this.opts.maxExamples) this.labelled.splice(0, this.labelled.length - this.opts.maxExamples);
    }
    this.history.push(win.stats);
    if (this.history.length > this.restingHistory * 1.25) this.history.splice(0, this.history.length - this.restingHistory);
    this.windowsSinceEstimate++;
  }

  /** The wearer's profile with resting HR given, or estimated from the stored windows. */
  resolvedProfile(): ResolvedProfile {
    const p = this.opts.profile;
    if (this.profileCache && (p.restingHrBpm !== undefined || this.windowsSinceEstimate < RESTING_REFRESH_WINDOWS)) return this.profileCache;
    const estimate = p.restingHrBpm !== undefined ? undefined : estimateRestingHr(this.history.slice(-this.restingHistory));
    this.profileCache = resolveProfile(p, estimate);
    this.windowsSinceEstimate = 0;
    return this.profileCache;
  }

  /** The model input of one window, with the current profile. */
  features(win: StoredWindow): Float32Array {
    return featuresFromStats(win.stats, this.resolvedProfile());
  }

  get labelledCount(): number {
    return this.labelled.length;
  }

  /** The most recent labelled windows as raw feature rows [N × 12] and kcal/min labels [N]. */
  trainingSet(): { features: Float32Array; labels: Float32Array; n: number } {
    const profile = this.resolvedProfile();
    const n = this.labelled.length;
    const features = new Float32Array(n * FEATURE_COUNT);
    const labels = new Float32Array(n);
    this.labelled.forEach((w, i) => {
      features.set(featuresFromStats(w.stats, profile), i * FEATURE_COUNT);
      labels[i] = (w.label as WindowLabel).kcalPerMin;
    });
    return { features, labels, n };
  }

  /** Makes appended windows durable (call after the record store's flush). */
  flush(): void {
    this.log.flush();
  }

  close(): void {
    this.log.close();
  }
}

function lineToWindow(l: WindowLine): StoredWindow {
  return { deviceId: l.d, startMs: l.s, endMs: l.e, stats: l.st, ...(l.l ? { label: l.l } : {}) };
}
