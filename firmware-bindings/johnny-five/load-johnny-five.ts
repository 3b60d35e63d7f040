/**
 * johnny-five, firmata-io and serialport are required on first use (createRequire; the first two
 * are CommonJS), so importing firmware-bindings costs nothing for code that never touches a board.
 *
 * openFirmataBoard wires them the way shared/notes/edge-stack.md §2 found to work with serialport 13:
 * the io path (firmata-io with our SerialPort as its transport), the port created in the same tick
 * as the io (an already-open port never fires `open`, and ready would never come), and johnny-five's
 * REPL and SIGINT handler off, since this runs inside services.
 */
import { createRequire } from 'node:module';
import type { SerialPort } from 'serialport';
import type * as JohnnyFiveTypes from 'johnny-five';

export type JohnnyFive = typeof JohnnyFiveTypes;
export type Board = JohnnyFiveTypes.Board;

/** The parts of a firmata-io instance (a johnny-five Board's `io`) the wearable component uses. */
export interface FirmataIo {
  readonly MODES: { readonly INPUT: number; readonly PULLUP: number; readonly ANALOG: number };
  readonly RESOLUTION: { ADC: number | null };
  readonly firmware: { name?: string; version?: { major: number; minor: number } };
  readonly analogPins: readonly number[];
  isReady: boolean;
  setSamplingInterval(ms: number): void;
  pinMode(pin: number, mode: number): void;
  analogRead(channel: number, cb: (value: number) => void): void;
  digitalRead(pin: number, cb: (value: number) => void): void;
  reportAnalogPin(channel: number, on: 0 | 1): void;
  reportDigitalPin(pin: number, on: 0 | 1): void;
  removeListener(event: string, cb: (...args: any[]) => void): unknown;
  on(event: string, cb: (...args: any[]) => void): unknown;
}

type FirmataCtor = new (transport: unknown, options?: Record<string, unknown>) => FirmataIo;

const require = createRequire(import.meta.url);

export function loadJohnnyFive(): JohnnyFive {
  return require('johnny-five') as JohnnyFive;
}

function loadSerialPort(): typeof SerialPort {
  return (require('serialport') as { SerialPort: typeof SerialPort }).SerialPort;
}

export function loadFirmataIo(): FirmataCtor {
  return (require('firmata-io') as { Firmata: FirmataCtor }).Firmata;
}

export interface OpenFirmataBoardOptions {
  baudRate?: number;
  /** johnny-five's limit from connect to ready (default 10 s). */
  timeoutMs?: number;
  /**
   * How long firmata-io waits for the board to announce itself before asking (default 5000 ms, its
   * own: an Uno's bootloader runs for about 1.6 s after the DTR reset and must not be sent bytes).
   */
  reportVersionTimeoutMs?: number;
}

export interface OpenedFirmataBoard {
  board: Board;
  io: FirmataIo;
  port: SerialPort;
  close(): Promise<void>;
}

/** Opens a StandardFirmata board on a serial device; resolves once johnny-five reports ready. */
export async function openFirmataBoard(path: string, opts: OpenFirmataBoardOptions = {}): Promise<OpenedFirmataBoard> {
  const five = loadJohnnyFive();
  const Firmata = loadFirmataIo();
  const SerialPortCtor = loadSerialPort();
  const port = new SerialPortCtor({ path, baudRate: opts.baudRate ?? 57600 });
  const io = new Firmata(port, { reportVersionTimeout: opts.reportVersionTimeoutMs ?? 5000 });
  // sigint is a johnny-five option @types/johnny-five does not list.
  const boardOptions = { io, repl: false, debug: false, sigint: false, timeout: opts.timeoutMs ?? 10_000 } as JohnnyFiveTypes.BoardOption;
  const board = new five.Board(boardOptions);
  const close = async (): Promise<void> => {
    if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  };
  try {
    await new Promise<void>((resolve, reject) => {
      board.on('ready', () => resolve());
      board.on('error', (e: unknown) => reject(new Error(`Firmata board on ${path}: ${errorText(e)}`)));
      port.on('error', (e: Error) => reject(new Error(`Firmata board on ${path}: ${e.message}`)));
    });
  } catch (e) {
    await close();
    throw e;
  }
  return { board, io, port, close };
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}
