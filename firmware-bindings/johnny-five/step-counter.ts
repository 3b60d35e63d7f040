/**
 * Steps from a digital step line (a pedometer IC's step output, a reed or mechanical switch): one
 * step per debounced rising edge. Pure: levels with their sample times in, a count out.
 *
 * Debouncing is done in the sample clock's time, not wall time: a new level counts only once it has
 * held for `debounceMs`, so contact chatter (a level that flips back within one sample or two) is
 * ignored, whatever the real-time delivery of the samples. A step closer than `minStepIntervalMs`
 * to the previous one is refused and counted apart (nobody steps faster than about 5 per second).
 */

export interface StepCounterOptions {
  /** A level must hold this long to be believed (default 30 ms: longer than one 20-ms sample). */
  debounceMs?: number;
  /** Shortest time between two steps (default 150 ms). */
  minStepIntervalMs?: number;
  /** Count to start from (default 0); wraps at 2^32 like the wire's step total. */
  initialSteps?: number;
}

export interface StepCounterStats {
  steps: number;
  /** Level changes that did not hold for debounceMs. */
  bouncesIgnored: number;
  /** Debounced rising edges closer than minStepIntervalMs to the previous step. */
  stepsRefused: number;
}

export class StepCounter {
  readonly stats: StepCounterStats = { steps: 0, bouncesIgnored: 0, stepsRefused: 0 };
  private readonly debounceMs: number;
  private readonly minInterval: number;
  private total: number;
  private raw: 0 | 1 = 0;
  private rawSince = 0;
  private stable: 0 | 1 = 0;
  private lastStepMs = -Infinity;
  private started = false;

  constructor(opts: StepCounterOptions = {}) {
    this.debounceMs = opts.debounceMs ?? 30;
    this.minInterval = opts.minStepIntervalMs ?? 150;
    this.total = opts.initialSteps ?? 0;
  }

  /** Cumulative steps (uint32, wraps). */
  get count(): number {
    return this.total;
  }

  /** The line read `level` at tMs (call on every change; repeats are harmless). */
  level(level: 0 | 1, tMs: number): void {
    this.advance(tMs);
    if (!this.started) {
      // The first level seen is the resting state, not an edge.
      this.started = true;
      this.raw = this.stable = level;
      this.rawSince = tMs;
      return;
    }
    if (level === this.raw) return;
    if (this.raw !== this.stable) this.stats.bouncesIgnored++; // the previous change never settled
    this.raw = level;
    this.rawSince = tMs;
  }

  /** Time moved on to tMs with no change: a pending level may now have held long enough. */
  advance(tMs: number): void {
    if (this.raw === this.stable || tMs - this.rawSince < this.debounceMs) return;
    this.stable = this.raw;
    if (this.stable === 1) {
      if (this.rawSince - this.lastStepMs < this.minInterval) {
        this.stats.stepsRefused++;
        return;
      }
      this.lastStepMs = this.rawSince;
      this.total = (this.total + 1) % 2 ** 32;
      this.stats.steps++;
    }
  }
}
