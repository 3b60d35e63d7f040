import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SegmentLog, scanEntries, encodeEntry } from '../../gateway/index.ts';

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-seglog-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const body = (i: number): Uint8Array => new TextEncoder().encode(`entry-${i}-${'x'.repeat(i % 37)}`);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('SegmentLog', () => {
  it('acknowledges entries only after flush and reads them back in order', () => {
    const dir = tmp();
    const log = SegmentLog.open(dir);
    for (let i = 0; i < 10; i++) log.append(body(i));
    expect(log.durableCount).toBe(0);
    expect([...SegmentLog.readAll(dir)]).toHaveLength(0);
    expect(log.flush()).toBe(10);
    log.close();
    expect([...SegmentLog.readAll(dir)].map(text)).toEqual(Array.from({ length: 10 }, (_, i) => text(body(i))));
  });

  it('rolls segments at the size limit and keeps order across them', () => {
    const dir = tmp();
    const log = SegmentLog.open(dir, { segmentBytes: 200 });
    for (let i = 0; i < 50; i++) {
      log.append(body(i));
      if (i % 7 === 0) log.flush();
    }
    log.close();
    expect(SegmentLog.segmentNumbers(dir).length).toBeGreaterThan(3);
    expect([...SegmentLog.readAll(dir)].map(text)).toEqual(Array.from({ length: 50 }, (_, i) => text(body(i))));
    const reopened = SegmentLog.open(dir, { segmentBytes: 200 });
    expect(reopened.durableCount).toBe(50);
    reopened.close();
  });

  it('cuts a torn tail on open and keeps appending after it', () => {
    const dir = tmp();
    const log = SegmentLog.open(dir);
    for (let i = 0; i < 5; i++) log.append(body(i));
    log.close();
    const file = path.join(dir, 'seg-00000001.log');
    const whole = encodeEntry(body(99));
    fs.appendFileSync(file, whole.subarray(0, whole.length - 3)); // a write cut short by a crash
    const reopened = SegmentLog.open(dir);
    expect(reopened.recovery.truncatedTailBytes).toBe(whole.length - 3);
    expect(reopened.durableCount).toBe(5);
    reopened.append(body(5));
    reopened.close();
    expect([...SegmentLog.readAll(dir)].map(text)).toEqual(Array.from({ length: 6 }, (_, i) => text(body(i))));
  });

  it('skips a damaged entry in the middle and keeps the good ones after it', () => {
    const entries = Array.from({ length: 6 }, (_, i) => encodeEntry(body(i)));
    const buf = Buffer.concat(entries);
    const damagedAt = entries[0].length + entries[1].length + 12; // inside entry 2's body
    buf[damagedAt] ^= 0xff;
    const scan = scanEntries(buf);
    expect(scan.entries.map((e) => text(e.body))).toEqual([0, 1, 3, 4, 5].map((i) => text(body(i))));
    expect(scan.corruptRegions).toHaveLength(1);
    expect(scan.tornTailBytes).toBe(0);
  });

  it('refuses an entry over the size limit with a clear error', () => {
    expect(() => encodeEntry(new Uint8Array((1 << 20) + 1))).toThrow(/more than the 1048576-byte limit/);
  });
});
