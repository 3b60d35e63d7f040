/** RecordStore.readSince: the restart replay reads only the newest segments, and misses no newer record. */
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordStore, SegmentLog } from '../../gateway/index.ts';
import { removeTempDirs, simulatedRecords, tempDir } from './helpers.ts';

afterAll(() => removeTempDirs());

describe('RecordStore.readSince', () => {
  it('starts at the newest segment holding a record at or before the time, and yields every newer record', () => {
    const dir = tempDir('tail');
    const records = simulatedRecords().slice(0, 3000);
    const store = RecordStore.open(dir, { segmentBytes: 8 * 1024 });
    for (const r of records) store.append(r);
    store.close();
    const segments = SegmentLog.segmentNumbers(dir);
    expect(segments.length).toBeGreaterThan(5);
    const since = records[2400].timestampMs;
    const tail = [...RecordStore.readSince(dir, since)];
    // Every record newer than `since`, in order, as the tail of the full store.
    expect(tail.filter((r) => r.timestampMs > since)).toEqual(records.filter((r) => r.timestampMs > since));
    expect(tail).toEqual(records.slice(records.length - tail.length));
    // Only the last segments were read: far fewer records than the store holds.
    expect(tail.length).toBeLessThan(records.length / 2);
    expect(tail[0].timestampMs).toBeLessThanOrEqual(since);
    // Before the first record: everything.
    expect([...RecordStore.readSince(dir, records[0].timestampMs - 1)]).toHaveLength(records.length);
    expect(fs.existsSync(SegmentLog.segmentPath(dir, segments[0]))).toBe(true);
  });
});
