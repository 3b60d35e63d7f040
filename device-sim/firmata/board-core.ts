/**
 * A StandardFirmata board as a pure state machine: host bytes in, board bytes out. It keeps pin
 * modes, which inputs report, the sampling interval and the last values sent, and knows nothing of
 * time or ports; serial-board.ts drives it from a serial port and a clock.
 *
 * Behaviour follows StandardFirmata.ino 2.5: setting a pin to ANALOG turns its channel's reporting
 * on (and any other mode turns it off); enabling REPORT_DIGITAL sends the port at once; digital
 * ports are sent when an input changes; analog channels are sent every sampling interval.
 * Bytes StandardFirmata would silently drop are dropped here too, but counted and described
 * (FirmataInputError), so a host bug shows up in the emulator's stats.
 */
import {
  ANALOG_MESSAGE,
  DIGITAL_MESSAGE,
  END_SYSEX,
  MAX_SYSEX_BYTES,
  PIN_MODE,
  PIN_MODE_NAMES,
  PROTOCOL_VERSION,
  REPORT_ANALOG,
  REPORT_DIGITAL,
  REPORT_VERSION,
  SET_DIGITAL_PIN_VALUE,
  SET_PIN_MODE,
  START_SYSEX,
  SYSEX,
  SYSTEM_RESET,
  encodeFirmwareName,
  hex2,
  twoSevenBit,
} from './firmata-protocol.ts';
import { UNO, type BoardLayout } from './uno-layout.ts';

export type FirmataInputErrorKind = 'framing' | 'unknownCommand' | 'unsupportedSysex' | 'badPin' | 'badMode' | 'badLength';

export const FIRMATA_INPUT_ERROR_KINDS: readonly FirmataInputErrorKind[] = ['framing', 'unknownCommand', 'unsupportedSysex', 'badPin', 'badMode', 'badLength'];

/** Host bytes the board could not act on; `kind` picks the counter. */
export class FirmataInputError extends Error {
  override readonly name = 'FirmataInputError';
  constructor(
    readonly kind: FirmataInputErrorKind,
    readonly detail: string,
  ) {
    super(`${kind}: ${detail}`);
  }
}

export interface FirmataCoreStats {
  bytesIn: number;
  /** Host messages acted on. */
  messages: number;
  /** Host messages (or stray bytes) refused, all kinds. */
  rejected: number;
  errors: Record<FirmataInputErrorKind, number>;
}

export interface FirmataCoreOptions {
  layout?: BoardLayout;
  /** Sent in REPORT_FIRMWARE (the sketch's file name on a real board). */
  firmwareName?: string;
  firmwareVersion?: readonly [number, number];
  onError?: (error: FirmataInputError) => void;
}

/** What the board's inputs read at one sampling instant. */
export interface InputLevels {
  /** ADC reading of a channel (0..adcMax). */
  analog(channel: number): number;
  /** Level of a digital pin. */
  digital(pin: number): 0 | 1;
}

/** StandardFirmata's default samplingInterval. */
export const DEFAULT_SAMPLING_INTERVAL_MS = 19;

/** Data bytes after each (non-sysex) command, keyed by its high nibble or full byte. */
function dataLength(cmd: number): number | undefined {
  switch (cmd & 0xf0) {
    case DIGITAL_MESSAGE:
    case ANALOG_MESSAGE:
      return 2;
    case REPORT_ANALOG:
    case REPORT_DIGITAL:
      return 1;
  }
  switch (cmd) {
    case SET_PIN_MODE:
    case SET_DIGITAL_PIN_VALUE:
      return 2;
    case REPORT_VERSION:
    case SYSTEM_RESET:
      return 0;
  }
  return undefined;
}

const COMMAND_NAMES: Readonly<Record<number, string>> = {
  [DIGITAL_MESSAGE]: 'DIGITAL_MESSAGE',
  [ANALOG_MESSAGE]: 'ANALOG_MESSAGE',
  [REPORT_ANALOG]: 'REPORT_ANALOG',
  [REPORT_DIGITAL]: 'REPORT_DIGITAL',
  [SET_PIN_MODE]: 'SET_PIN_MODE',
  [SET_DIGITAL_PIN_VALUE]: 'SET_DIGITAL_PIN_VALUE',
  [REPORT_VERSION]: 'REPORT_VERSION',
  [SYSTEM_RESET]: 'SYSTEM_RESET',
  [START_SYSEX]: 'SYSEX',
};

function commandName(cmd: number): string {
  return COMMAND_NAMES[cmd] ?? COMMAND_NAMES[cmd & 0xf0] ?? hex2(cmd);
}

export class FirmataBoardCore {
  readonly layout: BoardLayout;
  readonly stats: FirmataCoreStats = {
    bytesIn: 0,
    messages: 0,
    rejected: 0,
    errors: { framing: 0, unknownCommand: 0, unsupportedSysex: 0, badPin: 0, badMode: 0, badLength: 0 },
  };
  /** The host has sent at least one byte (a real board cannot tell when a host opens the port). */
  hostSpoke = false;
  samplingIntervalMs = DEFAULT_SAMPLING_INTERVAL_MS;
  private readonly firmwareName: string;
  private readonly firmwareVersion: readonly [number, number];
  private readonly onError: ((error: FirmataInputError) => void) | undefined;
  private modes: Array<number | undefined> = [];
  private outputs: number[] = [];
  private analogReporting = new Set<number>();
  private digitalReporting = new Set<number>();
  /** Last port values sent, so a port goes out only when an input changed. */
  private lastPortSent = new Map<number, number>();
  /** Input levels seen at the last sampling instant (REPORT_DIGITAL answers with them). */
  private lastDigital: Array<0 | 1> = [];
  /** Parser: the command in progress, its data, and whether we are inside a sysex. */
  private cmd = -1;
  private data: number[] = [];

  constructor(opts: FirmataCoreOptions = {}) {
    this.layout = opts.layout ?? UNO;
    this.firmwareName = opts.firmwareName ?? 'StandardFirmata.ino';
    this.firmwareVersion = opts.firmwareVersion ?? PROTOCOL_VERSION;
    this.onError = opts.onError;
    this.reset();
  }

  /** Power-on / SYSTEM_RESET state: reset modes, nothing reporting. The sampling interval is kept, as on the board. */
  reset(): void {
    const n = this.layout.pins.length;
    this.modes = Array.from({ length: n }, (_, p) => this.layout.resetMode(p));
    this.outputs = new Array<number>(n).fill(0);
    this.lastDigital = new Array<0 | 1>(n).fill(0);
    this.analogReporting.clear();
    this.digitalReporting.clear();
    this.lastPortSent.clear();
  }

  /** What a board sends on its own after a reset: REPORT_VERSION, then REPORT_FIRMWARE. */
  announce(): Uint8Array {
    return Uint8Array.from([...this.versionReply(), ...this.firmwareReply()]);
  }

  pinMode(pin: number): number | undefined {
    return this.modes[pin];
  }

  isAnalogReporting(channel: number): boolean {
    return this.analogReporting.has(channel);
  }

  isDigitalReporting(pin: number): boolean {
    return this.digitalReporting.has(pin >> 3) && this.isInput(pin);
  }

  /** The value last written to an output pin (digital 0/1, or a PWM duty). */
  outputValue(pin: number): number {
    return this.outputs[pin] ?? 0;
  }

  /** Host bytes in (any chunking); the board's replies out. */
  receive(bytes: Uint8Array): Uint8Array {
    const out: number[] = [];
    this.stats.bytesIn += bytes.length;
    if (bytes.length > 0) this.hostSpoke = true;
    for (const b of bytes) {
      if (b & 0x80) {
        if (b === END_SYSEX) {
          if (this.cmd === START_SYSEX) this.finishSysex(out);
          else this.reject('framing', 'END_SYSEX (0xF7) without a START_SYSEX');
          this.cmd = -1;
          continue;
        }
        if (this.cmd !== -1) {
          const what = this.cmd === START_SYSEX ? `sysex ${this.data.length ? hex2(this.data[0]) : '(empty)'}` : commandName(this.cmd);
          this.reject('framing', `${what} cut short by ${hex2(b)} after ${this.data.length} data byte(s)`);
        }
        this.cmd = b;
        this.data = [];
        if (b === START_SYSEX) continue;
        const need = dataLength(b);
        if (need === undefined) {
          this.reject('unknownCommand', `unknown command byte ${hex2(b)}`);
          this.cmd = -1;
        } else if (need === 0) {
          this.execute(b, out);
          this.cmd = -1;
        }
        continue;
      }
      if (this.cmd === -1) {
        this.reject('framing', `data byte ${hex2(b)} outside any message`);
        continue;
      }
      if (this.cmd === START_SYSEX) {
        if (this.data.length >= MAX_SYSEX_BYTES) {
          this.reject('badLength', `sysex ${hex2(this.data[0])} longer than ${MAX_SYSEX_BYTES} bytes`);
          this.cmd = -1;
          continue;
        }
        this.data.push(b);
        continue;
      }
      this.data.push(b);
      if (this.data.length === dataLength(this.cmd)) {
        this.execute(this.cmd, out);
        this.cmd = -1;
      }
    }
    return Uint8Array.from(out);
  }

  /**
   * One sampling instant: digital ports whose reported inputs changed, then every reporting analog
   * channel, in StandardFirmata's order.
   */
  sample(inputs: InputLevels): Uint8Array {
    const out: number[] = [];
    for (let p = 0; p < this.layout.pins.length; p++) if (this.isInput(p)) this.lastDigital[p] = inputs.digital(p);
    for (const port of [...this.digitalReporting].sort((a, b) => a - b)) {
      const v = this.portValue(port);
      if (this.lastPortSent.get(port) !== v) this.sendPort(port, v, out);
    }
    for (const ch of [...this.analogReporting].sort((a, b) => a - b)) {
      const v = Math.max(0, Math.min(this.layout.adcMax, Math.round(inputs.analog(ch))));
      out.push(ANALOG_MESSAGE | (ch & 0x0f), ...twoSevenBit(v));
    }
    return Uint8Array.from(out);
  }

  private execute(cmd: number, out: number[]): void {
    const d = this.data;
    switch (cmd & 0xf0) {
      case DIGITAL_MESSAGE:
        return this.ok(() => this.writePort(cmd & 0x0f, d[0] | (d[1] << 7)));
      case ANALOG_MESSAGE:
        return this.pwmWrite(cmd & 0x0f, d[0] | (d[1] << 7));
      case REPORT_ANALOG: {
        const ch = cmd & 0x0f;
        if (!this.layout.pins.some((p) => p.analogChannel === ch)) return this.reject('badPin', `REPORT_ANALOG: no analog channel ${ch} on ${this.layout.name}`);
        if (d[0]) this.analogReporting.add(ch);
        else this.analogReporting.delete(ch);
        return this.ok();
      }
      case REPORT_DIGITAL: {
        const port = cmd & 0x0f;
        if (port * 8 >= this.layout.pins.length) return this.reject('badPin', `REPORT_DIGITAL: no port ${port} on ${this.layout.name}`);
        if (d[0]) {
          this.digitalReporting.add(port);
          this.sendPort(port, this.portValue(port), out);
        } else {
          this.digitalReporting.delete(port);
        }
        return this.ok();
      }
    }
    switch (cmd) {
      case SET_PIN_MODE:
        return this.setPinMode(d[0], d[1]);
      case SET_DIGITAL_PIN_VALUE: {
        if (!this.pinExists(d[0], 'SET_DIGITAL_PIN_VALUE')) return;
        if (this.modes[d[0]] === PIN_MODE.OUTPUT) this.outputs[d[0]] = d[1] ? 1 : 0;
        return this.ok();
      }
      case REPORT_VERSION:
        out.push(...this.versionReply());
        return this.ok();
      case SYSTEM_RESET:
        this.reset();
        return this.ok();
    }
  }

  private finishSysex(out: number[]): void {
    const [command, ...args] = this.data;
    if (command === undefined) return this.reject('badLength', 'empty sysex (F0 F7)');
    switch (command) {
      case SYSEX.REPORT_FIRMWARE:
        out.push(...this.firmwareReply());
        return this.ok();
      case SYSEX.CAPABILITY_QUERY:
        out.push(START_SYSEX, SYSEX.CAPABILITY_RESPONSE);
        for (const pin of this.layout.pins) {
          for (const [mode, res] of pin.modes) out.push(mode, res);
          out.push(0x7f);
        }
        out.push(END_SYSEX);
        return this.ok();
      case SYSEX.ANALOG_MAPPING_QUERY:
        out.push(START_SYSEX, SYSEX.ANALOG_MAPPING_RESPONSE, ...this.layout.pins.map((p) => p.analogChannel ?? 0x7f), END_SYSEX);
        return this.ok();
      case SYSEX.PIN_STATE_QUERY: {
        if (args.length !== 1) return this.reject('badLength', `PIN_STATE_QUERY wants 1 data byte (the pin), got ${args.length}`);
        const pin = args[0];
        if (!this.pinExists(pin, 'PIN_STATE_QUERY')) return;
        // Pin state: the output value (or pull-up flag) as 7-bit bytes, least significant first.
        let state = this.modes[pin] === PIN_MODE.PULLUP ? 1 : this.outputs[pin];
        const stateBytes = [state & 0x7f];
        for (state >>= 7; state > 0; state >>= 7) stateBytes.push(state & 0x7f);
        out.push(START_SYSEX, SYSEX.PIN_STATE_RESPONSE, pin, this.modes[pin] ?? 0x7f, ...stateBytes, END_SYSEX);
        return this.ok();
      }
      case SYSEX.SAMPLING_INTERVAL: {
        if (args.length !== 2) return this.reject('badLength', `SAMPLING_INTERVAL wants 2 data bytes (LSB, MSB), got ${args.length}`);
        const ms = args[0] | (args[1] << 7);
        // StandardFirmata clamps to MINIMUM_SAMPLING_INTERVAL (1 ms).
        this.samplingIntervalMs = Math.max(1, ms);
        return this.ok();
      }
      case SYSEX.EXTENDED_ANALOG: {
        if (args.length < 2) return this.reject('badLength', `EXTENDED_ANALOG wants a pin and a value, got ${args.length} byte(s)`);
        let v = 0;
        for (let i = 1; i < args.length; i++) v |= args[i] << (7 * (i - 1));
        return this.pwmWrite(args[0], v);
      }
      case SYSEX.STRING_DATA:
        return this.ok();
      default:
        return this.reject('unsupportedSysex', `sysex command ${hex2(command)} is not supported by this board (StandardFirmata without I2C, servo or serial features)`);
    }
  }

  private setPinMode(pin: number, mode: number): void {
    if (!this.pinExists(pin, 'SET_PIN_MODE')) return;
    const cap = this.layout.pins[pin];
    if (!cap.modes.has(mode)) {
      const supported = [...cap.modes.keys()].map((m) => PIN_MODE_NAMES[m] ?? hex2(m)).join(', ') || 'none';
      return this.reject('badMode', `SET_PIN_MODE: pin ${pin} cannot be ${PIN_MODE_NAMES[mode] ?? hex2(mode)} (it supports ${supported})`);
    }
    this.modes[pin] = mode;
    if (cap.analogChannel !== undefined) {
      if (mode === PIN_MODE.ANALOG) this.analogReporting.add(cap.analogChannel);
      else this.analogReporting.delete(cap.analogChannel);
    }
    this.ok();
  }

  private pwmWrite(pin: number, value: number): void {
    if (!this.pinExists(pin, 'ANALOG_MESSAGE')) return;
    if (this.modes[pin] !== PIN_MODE.PWM && this.modes[pin] !== PIN_MODE.SERVO) {
      return this.reject('badMode', `analog write to pin ${pin}, which is in mode ${PIN_MODE_NAMES[this.modes[pin] ?? -1] ?? 'none'}, not PWM or SERVO`);
    }
    this.outputs[pin] = value;
    this.ok();
  }

  private writePort(port: number, value: number): void {
    for (let i = 0; i < 8; i++) {
      const pin = port * 8 + i;
      if (this.modes[pin] === PIN_MODE.OUTPUT) this.outputs[pin] = (value >> i) & 1;
    }
  }

  private isInput(pin: number): boolean {
    const m = this.modes[pin];
    return m === PIN_MODE.INPUT || m === PIN_MODE.PULLUP;
  }

  private portValue(port: number): number {
    let v = 0;
    for (let i = 0; i < 8; i++) {
      const pin = port * 8 + i;
      if (pin < this.layout.pins.length && this.isInput(pin) && this.lastDigital[pin]) v |= 1 << i;
    }
    return v;
  }

  private sendPort(port: number, value: number, out: number[]): void {
    this.lastPortSent.set(port, value);
    out.push(DIGITAL_MESSAGE | (port & 0x0f), value & 0x7f, (value >> 7) & 0x7f);
  }

  private pinExists(pin: number, what: string): boolean {
    if (pin < this.layout.pins.length && this.layout.pins[pin].modes.size > 0) return true;
    this.reject('badPin', `${what}: pin ${pin} does not exist or is reserved on ${this.layout.name} (usable pins 2..${this.layout.pins.length - 1})`);
    return false;
  }

  private versionReply(): number[] {
    return [REPORT_VERSION, PROTOCOL_VERSION[0], PROTOCOL_VERSION[1]];
  }

  private firmwareReply(): number[] {
    return [START_SYSEX, SYSEX.REPORT_FIRMWARE, this.firmwareVersion[0], this.firmwareVersion[1], ...encodeFirmwareName(this.firmwareName), END_SYSEX];
  }

  private ok(action?: () => void): void {
    action?.();
    this.stats.messages++;
  }

  private reject(kind: FirmataInputErrorKind, detail: string): void {
    this.stats.rejected++;
    this.stats.errors[kind]++;
    this.onError?.(new FirmataInputError(kind, detail));
  }
}
