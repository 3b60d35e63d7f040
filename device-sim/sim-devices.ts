/**
 * The two `fedwear sim` outputs that are not wire-protocol frames: a Firmata board served on a
 * serial device (what johnny-five, and `fedwear gateway ingest --firmata`, talk to), and a capture
 * of Bluetooth LE GATT notifications as JSON lines (what `fedwear gateway ingest --gatt` replays:
 * there is no radio here, and a capture is also what a sniffer on a real strap would give).
 */
import fs from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { gattNotifications } from './ble/index.ts';
import { simulateTicks } from './device.ts';
import { FirmataBoardEmulator, SimulatedWearer } from './firmata/index.ts';
import type { SimOptions } from './options.ts';
import type { SimOutput, SimSummary } from './sim-command.ts';
import type { UserProfile } from './users.ts';

interface DeviceIo {
  stderr: Writable;
  signal?: AbortSignal;
}

/** One line of a GATT capture: when, which characteristic (16-bit UUID), the value's bytes in hex. */
export interface GattCaptureLine {
  timestampMs: number;
  characteristic: string;
  data: string;
}

/** Serves the board until the wearer's simulated time is over (or the signal aborts). */
export async function runFirmataBoard(user: UserProfile, sim: SimOptions, speed: number, out: Extract<SimOutput, { kind: 'firmata' }>, io: DeviceIo): Promise<SimSummary> {
  const wearer = new SimulatedWearer(user, { ...sim, stepBounce: true });
  const board = new FirmataBoardEmulator({ path: out.path, baudRate: out.baudRate, wearer, speed });
  await board.start();
  io.stderr.write(`sim: Firmata board (StandardFirmata, pulse sensor on A0, step line on pin 2) for user ${user.userId} (${user.cluster}) on ${out.path} at ${out.baudRate} baud; its clock starts when a host turns reporting on\n`);
  const aborted = new Promise<boolean>((resolve) => {
    if (io.signal?.aborted) resolve(true);
    io.signal?.addEventListener('abort', () => resolve(true), { once: true });
  });
  const wasAborted = await Promise.race([once(board, 'finished').then(() => false), aborted]);
  const stats = board.stats;
  await board.stop();
  io.stderr.write(
    `sim: board ${wasAborted ? 'stopped' : 'finished'} after ${Math.min(stats.simulatedMs, wearer.durationMs) / 1000} simulated s: ${stats.ticks} samples, ${wearer.truth.beatsMs.length} beats, ${wearer.truth.stepPulses} step pulses, ${stats.bytesOut} bytes out, ${stats.rejected} host messages refused\n`,
  );
  return { users: 1, records: stats.ticks, bytes: stats.bytesOut, aborted: wasAborted, output: out };
}

/** Writes the strap's and foot pod's notifications for the whole duration, as fast as it can. */
export async function writeGattCapture(user: UserProfile, sim: SimOptions, out: Extract<SimOutput, { kind: 'gatt' }>, io: DeviceIo): Promise<SimSummary> {
  const file = fs.createWriteStream(out.path);
  let lines = 0;
  let bytes = 0;
  let aborted = false;
  for (const n of gattNotifications(simulateTicks(user, sim), { user, initialSteps: sim.initialSteps })) {
    if (io.signal?.aborted) {
      aborted = true;
      break;
    }
    const line: GattCaptureLine = { timestampMs: n.timestampMs, characteristic: n.characteristic, data: Buffer.from(n.data).toString('hex') };
    const text = JSON.stringify(line) + '\n';
    bytes += text.length;
    lines++;
    if (!file.write(text)) await once(file, 'drain');
  }
  file.end();
  await once(file, 'finish');
  io.stderr.write(`sim: ${lines} GATT notifications (Heart Rate 0x2A37, RSC 0x2A53) of user ${user.userId} written to ${out.path}${aborted ? ' (interrupted)' : ''}\n`);
  return { users: 1, records: lines, bytes, aborted, output: out };
}
