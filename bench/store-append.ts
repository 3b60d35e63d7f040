/**
 * Store append throughput: records appended to the gateway's segment-log store, with the
 * ingest's real flush policy (write + fdatasync every 256 records), and the same without fsync
 * batching limits (one fsync per 4096) to show what durability costs. The reference is the obvious
 * alternative a gateway could use: JSON lines appended with the same fsync policy.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DeviceRecord } from '../firmware-bindings/index.ts';
import { RecordStore } from '../gateway/index.ts';
import { measureRate, writeResults, type Measurement } from './harness.ts';

const recs: DeviceRecord[] = Array.from({ length: 4096 }, (_, i) => ({
  type: 'heartRate',
  deviceId: 1,
  seq: i,
  timestampMs: 1_700_000_000_000 + i * 1000,
  bpm: 60 + (i % 100) / 10,
  confidence: 90,
}));

/** The same records as JSON lines, buffered and written + fdatasync'd every `flushEvery` records. */
function jsonLinesRate(flushEvery: number): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-bench-jsonl-'));
  const fd = fs.openSync(path.join(dir, 'records.jsonl'), 'a');
  let pending: string[] = [];
  const { median } = measureRate(
    () => {
      for (let i = 0; i < recs.length; i++) {
        pending.push(JSON.stringify(recs[i]));
        if ((i + 1) % flushEvery === 0) {
          fs.writeSync(fd, pending.join('\n') + '\n');
          fs.fdatasyncSync(fd);
          pending = [];
        }
      }
    },
    recs.length,
    { runs: 7, seconds: 0.5 },
  );
  fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
  return median;
}

const measurements: Measurement[] = [];
for (const flushEvery of [256, 4096]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-bench-store-'));
  const store = RecordStore.open(dir);
  const { median, runs } = measureRate(
    () => {
      for (let i = 0; i < recs.length; i++) {
        store.append(recs[i]);
        if ((i + 1) % flushEvery === 0) store.flush();
      }
    },
    recs.length,
    { runs: 7, seconds: 0.5 },
  );
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const ref = jsonLinesRate(flushEvery);
  measurements.push({
    name: `store append, fsync every ${flushEvery} records`,
    median,
    unit: 'records/s',
    runs,
    extra: { flushEvery },
    reference: { name: 'JSON lines, same fsync policy', value: Math.round(ref), unit: 'records/s', ratio: Math.round((median / ref) * 100) / 100 },
  });
  console.log(`store append, fsync every ${flushEvery}: ${Math.round(median).toLocaleString()} records/s (JSON lines ${Math.round(ref).toLocaleString()})`);
}
const file = writeResults('store-append', measurements, `tmpdir ${os.tmpdir()} (the disk a gateway would write to differs: an SD card fsyncs far slower)`);
console.log(`wrote ${file}`);
