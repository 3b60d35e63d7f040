/** Many devices as one time-ordered stream, as a gateway or a broker would see them interleaved. */
import { simulateDevice } from './device.ts';
import type { SimOptions } from './options.ts';
import type { UserProfile } from './users.ts';
import type { DeviceRecord } from '../firmware-bindings/index.ts';

/**
 * Merges per-device streams (each already in time order) into one, ordered by timestampMs; ties go
 * to the lower deviceId, then to the earlier source. Each source's own order is kept.
 */
export function* mergeByTime(sources: Iterable<Iterable<DeviceRecord>>): Generator<DeviceRecord, void, undefined> {
  const heads: { rec: DeviceRecord; it: Iterator<DeviceRecord>; src: number }[] = [];
  let src = 0;
  for (const s of sources) {
    const it = s[Symbol.iterator]();
    const first = it.next();
    if (!first.done) heapPush(heads, { rec: first.value, it, src });
    src++;
  }
  while (heads.length > 0) {
    const top = heads[0]!;
    yield top.rec;
    const next = top.it.next();
    if (next.done) {
      const last = heads.pop()!;
      if (heads.length > 0) {
        heads[0] = last;
        siftDown(heads, 0);
      }
    } else {
      top.rec = next.value;
      siftDown(heads, 0);
    }
  }
}

/** Every user's device simulated with the same options, merged. Device ids must be distinct. */
export function simulateMany(users: readonly UserProfile[], options: SimOptions): Generator<DeviceRecord, void, undefined> {
  const seen = new Map<number, string>();
  for (const u of users) {
    const other = seen.get(u.deviceId);
    if (other !== undefined) throw new RangeError(`users ${other} and ${u.userId} share deviceId ${u.deviceId}`);
    seen.set(u.deviceId, u.userId);
  }
  return mergeByTime(users.map((u) => simulateDevice(u, options)));
}

type Head = { rec: DeviceRecord; src: number };

function before(a: Head, b: Head): boolean {
  if (a.rec.timestampMs !== b.rec.timestampMs) return a.rec.timestampMs < b.rec.timestampMs;
  if (a.rec.deviceId !== b.rec.deviceId) return a.rec.deviceId < b.rec.deviceId;
  return a.src < b.src;
}

function heapPush<T extends Head>(h: T[], x: T): void {
  h.push(x);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!before(h[i]!, h[p]!)) break;
    [h[i], h[p]] = [h[p]!, h[i]!];
    i = p;
  }
}

function siftDown<T extends Head>(h: T[], i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < h.length && before(h[l]!, h[m]!)) m = l;
    if (r < h.length && before(h[r]!, h[m]!)) m = r;
    if (m === i) return;
    [h[i], h[m]] = [h[m]!, h[i]!];
    i = m;
  }
}
