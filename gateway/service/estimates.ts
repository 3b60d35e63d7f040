/**
 * Live energy estimates, one per window, for the user's own app: kept in `<dataDir>/estimates/` (a
 * SegmentLog of JSON lines) and the most recent ones in memory for GET /estimates. They never leave
 * the gateway: nothing in the MQTT path reads this store.
 */
import { SegmentLog } from '../store/index.ts';

export interface Estimate {
  deviceId: number;
  startMs: number;
  endMs: number;
  kcalPerMin: number;
  /** The live model that produced it: a global version, or `<global>+personal-r<round>`. */
  modelVersion: string;
}

export interface EstimateQuery {
  /** Estimates of windows ending after this (epoch ms); default 0. */
  sinceMs?: number;
  deviceId?: number;
  /** Default 1000, at most 10,000. */
  limit?: number;
}

export interface EstimatePage {
  estimates: Estimate[];
  /** Pass as `since` to get the next page, when the limit cut this one short. */
  nextSince?: number;
}

export const MAX_ESTIMATES_PER_PAGE = 10_000;

function byEnd(a: Estimate, b: Estimate): number {
  return a.endMs - b.endMs || a.deviceId - b.deviceId;
}

export class EstimateStore {
  private readonly log: SegmentLog;
  private recent: Estimate[] = [];
  /** Every estimate ending after this is in memory. */
  private memoryFloorMs = -Infinity;

  private constructor(private readonly dir: string, private readonly keep: number) {
    this.log = SegmentLog.open(dir);
    for (const body of SegmentLog.readAll(dir)) this.hold(JSON.parse(body.toString('utf8')) as Estimate);
  }

  static open(dir: string, keepInMemory = 20_000): EstimateStore {
    return new EstimateStore(dir, keepInMemory);
  }

  get count(): number {
    return this.log.durableCount + this.log.pendingCount;
  }

  add(e: Estimate): void {
    this.log.append(Buffer.from(JSON.stringify(e), 'utf8'));
    this.hold(e);
  }

  private hold(e: Estimate): void {
    this.recent.push(e);
    if (this.recent.length > this.keep * 1.25) {
      const cut = this.recent.length - this.keep;
      for (let i = 0; i < cut; i++) this.memoryFloorMs = Math.max(this.memoryFloorMs, this.recent[i].endMs);
      this.recent = this.recent.slice(cut);
    }
  }

  query(q: EstimateQuery = {}): EstimatePage {
    const since = q.sinceMs ?? 0;
    const limit = Math.min(q.limit ?? 1000, MAX_ESTIMATES_PER_PAGE);
    // Older than what memory holds: read the log (flushed entries) once, rare and bounded by disk.
    const source: Iterable<Estimate> = since < this.memoryFloorMs ? this.fromDisk() : this.recent;
    const hits: Estimate[] = [];
    for (const e of source) if (e.endMs > since && (q.deviceId === undefined || e.deviceId === q.deviceId)) hits.push(e);
    hits.sort(byEnd);
    if (hits.length <= limit) return { estimates: hits };
    // Cut on an end time boundary so `nextSince` never skips an estimate that shares it.
    let n = limit;
    while (n > 0 && hits[n - 1].endMs === hits[n].endMs) n--;
    if (n === 0) n = limit;
    return { estimates: hits.slice(0, n), nextSince: hits[n - 1].endMs };
  }

  private *fromDisk(): Generator<Estimate> {
    this.log.flush();
    for (const body of SegmentLog.readAll(this.dir)) yield JSON.parse(body.toString('utf8')) as Estimate;
  }

  flush(): void {
    this.log.flush();
  }

  close(): void {
    this.log.close();
  }
}
