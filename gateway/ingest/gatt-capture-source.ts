/**
 * Bluetooth LE notifications replayed from a capture (JSON lines: `{timestampMs, characteristic,
 * data}` with the value in hex; `fedwear sim --gatt` writes them, a sniffer on a real strap gives the
 * same). Each one goes through firmware-bindings' GattRecordMapper, the same path live notifications
 * from noble take, so a capture exercises the gateway's BLE mapping without a radio. A line that is
 * not a notification is counted and skipped, with its line number; a payload the GATT codecs refuse
 * is counted by the mapper.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { GattRecordMapper, type DeviceRecord, type GattStats } from '../../firmware-bindings/index.ts';

export interface GattCaptureStats {
  lines: number;
  /** Lines that are not a notification (not JSON, or a field missing or wrong). */
  linesBad: number;
  /** The mapper's counters: notifications decoded and refused, per characteristic. */
  gatt: GattStats;
}

export type GattCaptureLineResult = { ok: true; timestampMs: number; characteristic: string; data: Uint8Array } | { ok: false; error: string };

const HEX = /^(?:[0-9a-f]{2})*$/i;

/** One capture line, checked; the error says which field is wrong. */
export function parseGattCaptureLine(text: string): GattCaptureLineResult {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, error: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  if (typeof o.timestampMs !== 'number' || !Number.isSafeInteger(o.timestampMs) || o.timestampMs < 0) return { ok: false, error: `timestampMs: expected epoch milliseconds, got ${JSON.stringify(o.timestampMs)}` };
  if (typeof o.characteristic !== 'string' || o.characteristic.length === 0) return { ok: false, error: `characteristic: expected a UUID such as "2a37", got ${JSON.stringify(o.characteristic)}` };
  if (typeof o.data !== 'string' || !HEX.test(o.data)) return { ok: false, error: `data: expected the value's bytes in hex, got ${JSON.stringify(o.data)?.slice(0, 40)}` };
  return { ok: true, timestampMs: o.timestampMs, characteristic: o.characteristic, data: Uint8Array.from(Buffer.from(o.data, 'hex')) };
}

/** Reads the whole capture in order; resolves with the counters at its end. */
export async function replayGattCapture(
  file: string,
  opts: { deviceId: number; onRecord(r: DeviceRecord): void; log?: (line: string) => void; signal?: AbortSignal },
): Promise<GattCaptureStats> {
  const mapper = new GattRecordMapper({ deviceId: opts.deviceId });
  const stats: GattCaptureStats = { lines: 0, linesBad: 0, gatt: mapper.stats };
  const input = fs.createReadStream(file);
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const text of lines) {
      if (opts.signal?.aborted) break;
      stats.lines++;
      if (text.trim() === '') continue;
      const line = parseGattCaptureLine(text);
      if (!line.ok) {
        stats.linesBad++;
        // The first few name their line; after that only the count grows.
        if (stats.linesBad <= 5) opts.log?.(`${file}:${stats.lines}: skipped: ${line.error}`);
        continue;
      }
      for (const r of mapper.notification(line.characteristic, line.data, line.timestampMs)) opts.onRecord(r);
    }
  } finally {
    lines.close();
    input.destroy();
  }
  return stats;
}
