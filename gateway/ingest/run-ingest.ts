import fs from 'node:fs';
import { RecordStore } from '../store/index.ts';
import { Ingestor, type IngestStats } from './ingestor.ts';
import { SerialSource } from './serial-source.ts';
import { FirmataSource, fnv1a32, type FirmataSourceStats } from './firmata-source.ts';
import { replayGattCapture, type GattCaptureStats } from './gatt-capture-source.ts';

export interface RunIngestOptions {
  serial?: string;
  baudRate?: number;
  inFile?: string;
  /** A StandardFirmata board (pulse sensor on A0, step line on pin 2) instead of a wire-protocol device. */
  firmata?: string;
  /** A Bluetooth LE GATT capture (JSON lines) to replay through the GATT record mapping. */
  gatt?: string;
  /** Device id for the Firmata board's or the GATT capture's records (default: derived from the path). */
  deviceId?: number;
  store: string;
  statsJson?: string;
  /** Stop once this many records are acknowledged. */
  exitAfter?: number;
  /** Stop after this many seconds without a byte from the device. */
  idleExitS?: number;
  /** Stop after this many seconds. */
  durationS?: number;
  /** Longest time a record waits in memory before it is written and fsynced. */
  flushIntervalMs?: number;
  /** Write `{"event":"ack","recordsStored":N}` lines to this stream after each fsync. */
  ackStream?: NodeJS.WritableStream;
  /** Human-readable progress and the final counters. */
  log?: (line: string) => void;
}

export interface IngestResult extends IngestStats {
  stopReason: string;
  storeRecovery: RecordStore['recovery'];
  firmata?: FirmataSourceStats;
  gatt?: GattCaptureStats;
}

/** The `fedwear gateway ingest` service: one source, one store, until an exit condition. */
export async function runIngest(opts: RunIngestOptions): Promise<IngestResult> {
  if ([opts.serial, opts.inFile, opts.firmata, opts.gatt].filter(Boolean).length !== 1) {
    throw new Error('give exactly one of --serial PATH, --in FILE, --firmata PATH or --gatt FILE');
  }
  const log = opts.log ?? (() => undefined);
  const store = RecordStore.open(opts.store);
  const rec = store.recovery;
  if (rec.truncatedTailBytes || rec.corruptRegions) {
    log(`store recovered: cut a ${rec.truncatedTailBytes}-byte torn tail, skipped ${rec.corruptRegions} damaged region(s)`);
  }
  const ingestor = new Ingestor(store);
  if (opts.ackStream) {
    const out = opts.ackStream;
    ingestor.on('ack', (n) => out.write(JSON.stringify({ event: 'ack', recordsStored: n }) + '\n'));
  }

  let stopReason = '';
  let resolveStop!: () => void;
  const stopped = new Promise<void>((r) => (resolveStop = r));
  const stop = (reason: string): void => {
    if (stopReason) return;
    stopReason = reason;
    resolveStop();
  };

  if (opts.exitAfter !== undefined) {
    const target = opts.exitAfter;
    ingestor.on('record', () => {
      // Records count once durable, so flush early when the target is reached.
      if (ingestor.recordsStored + store.pendingCount >= target) ingestor.flush();
    });
    ingestor.on('ack', (n) => n >= target && stop(`stored ${n} records (--exit-after ${target})`));
  }

  let idleTimer: NodeJS.Timeout | null = null;
  const touch = (): void => {
    if (opts.idleExitS === undefined) return;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => stop(`no data for ${opts.idleExitS} s (--idle-exit)`), opts.idleExitS * 1000);
  };
  touch();
  const durationTimer = opts.durationS !== undefined ? setTimeout(() => stop(`ran ${opts.durationS} s (--duration)`), opts.durationS * 1000) : null;
  const flushTimer = setInterval(() => ingestor.flush(), opts.flushIntervalMs ?? 100);
  const onSignal = (sig: NodeJS.Signals): void => stop(`received ${sig}`);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let serial: SerialSource | null = null;
  let fileStream: fs.ReadStream | null = null;
  let firmata: FirmataSource | null = null;
  let gattStats: GattCaptureStats | undefined;
  const replay = new AbortController();
  if (opts.gatt) {
    const file = opts.gatt;
    const deviceId = opts.deviceId ?? fnv1a32(file);
    log(`replaying GATT capture ${file} (device id ${deviceId})`);
    replayGattCapture(file, {
      deviceId,
      signal: replay.signal,
      log,
      onRecord: (r) => {
        touch();
        ingestor.pushRecord(r);
      },
    }).then(
      (st) => {
        gattStats = st;
        stop('end of GATT capture');
      },
      (err: Error) => stop(`cannot read ${file}: ${err.message}`),
    );
  } else if (opts.firmata) {
    firmata = new FirmataSource({ path: opts.firmata, baudRate: opts.baudRate, deviceId: opts.deviceId });
    firmata.on('record', (record) => {
      touch();
      ingestor.pushRecord(record);
    });
    firmata.on('open', (p, fw) => log(`opened ${p} (Firmata: ${fw}, device id ${firmata!.deviceId})`));
    firmata.on('disconnect', (why) => {
      ingestor.reconnects++;
      ingestor.flush();
      log(`board disconnected (${why}); reconnecting`);
    });
    firmata.on('error', (err) => log(`firmata error: ${err.message}`));
    firmata.start();
  } else if (opts.serial) {
    serial = new SerialSource({ path: opts.serial, baudRate: opts.baudRate });
    serial.on('data', (chunk) => {
      touch();
      ingestor.push(chunk);
    });
    serial.on('open', (p) => log(`opened ${p}`));
    serial.on('disconnect', (why) => {
      ingestor.reconnects++;
      ingestor.flush();
      log(`device disconnected (${why}); reconnecting`);
    });
    serial.on('error', (err) => log(`serial error: ${err.message}`));
    serial.start();
  } else {
    const stream = fs.createReadStream(opts.inFile!);
    fileStream = stream;
    stream.on('data', (chunk) => {
      touch();
      ingestor.push(chunk as Buffer);
    });
    stream.on('end', () => stop('end of input file'));
    stream.on('error', (err) => stop(`cannot read ${opts.inFile}: ${err.message}`));
  }

  await stopped;
  replay.abort();
  if (idleTimer) clearTimeout(idleTimer);
  if (durationTimer) clearTimeout(durationTimer);
  clearInterval(flushTimer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await serial?.stop();
  await firmata?.stop();
  fileStream?.destroy();
  ingestor.flush();
  store.close();

  const result: IngestResult = { ...ingestor.stats(), stopReason, storeRecovery: rec, ...(firmata ? { firmata: firmata.stats } : {}), ...(gattStats ? { gatt: gattStats } : {}) };
  if (opts.statsJson) fs.writeFileSync(opts.statsJson, JSON.stringify(result, null, 2) + '\n');
  log(formatStats(result));
  return result;
}

export function formatStats(s: IngestResult): string {
  const kinds = Object.entries(s.errors)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return [
    `stopped: ${s.stopReason}`,
    `bytes read ${s.bytesRead}, frames ok ${s.framesOk}, frames bad ${s.framesBad}${kinds ? ` (${kinds})` : ''}`,
    `sequence gaps ${s.seqGapEvents} (${s.seqGaps} frames missing), reconnects ${s.reconnects}, records stored ${s.recordsStored}${s.recordsPushed ? ` (${s.recordsPushed} made from ${s.gatt ? 'GATT notifications' : 'a Firmata board'})` : ''}`,
    ...(s.gatt
      ? [`GATT capture: ${s.gatt.lines} lines, ${s.gatt.linesBad} not notifications; decoded ${gattCount(s.gatt.gatt.ok)}, refused ${gattCount(s.gatt.gatt.malformed)}${s.gatt.gatt.lastError ? ` (last: ${s.gatt.gatt.lastError})` : ''}`]
      : []),
  ].join('\n');
}

function gattCount(c: Record<string, number>): string {
  return Object.entries(c)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}
