/**
 * A johnny-five component for a wearable built on a Firmata board: a pulse sensor on an analog pin
 * and a step line on a digital pin, turned into DeviceRecords (heart rate, RR intervals, cumulative
 * steps, and a deviceInfo from the board's firmware report).
 *
 * Why the board's io and not johnny-five's Sensor and Button: Sensor median-filters and re-emits on
 * a wall-clock timer (25 ms), and Button debounces on wall-clock time. Beat timing needs every
 * sample, and wall time on the host is not the board's time (USB batching; an emulator running
 * faster than real time). So the component keeps a *sample clock*: it sets the board's sampling
 * interval, counts the pulse sensor's samples, and dates everything by sample count × interval.
 * StandardFirmata keeps that interval on average (it advances its deadline by the interval, not to
 * "now"), so the clock holds on real boards too. A step edge is dated by the sample in progress:
 * the board sends digital changes before the analog readings of the same sampling pass.
 *
 * Like every johnny-five component it takes `board` explicitly (johnny-five otherwise attaches
 * components to the first board the process created).
 */
import { EventEmitter } from 'node:events';
import type { DeviceRecord } from '../records.ts';
import type { Board, FirmataIo } from './load-johnny-five.ts';
import { PulseStepRecorder, type PulseStepRecorderOptions, type PulseStepRecorderStats } from './pulse-step-recorder.ts';
import type { BeatDetectorStats } from './beat-detector.ts';
import type { StepCounterStats } from './step-counter.ts';

export interface FirmataWearableOptions {
  board: Board;
  deviceId: number;
  /** Pulse sensor pin: 'A0'..'A5' or an analog channel number (default 'A0'). */
  pulsePin?: string | number;
  /** Step line pin (default 2). */
  stepPin?: number;
  /** Use the pin's pull-up (a switch to ground) (default false: a driven line, e.g. a pedometer IC). */
  stepPullup?: boolean;
  /** Board sampling interval, ms (default 20: 50 Hz, plenty for beat timing with interpolation). */
  samplingIntervalMs?: number;
  /** Wall-clock ms of the first sample (default: Date.now() when it arrives). */
  startMs?: number;
  firstSeq?: number;
  /** Reporting cadence and detector tuning (PulseStepRecorder). */
  recorder?: Omit<PulseStepRecorderOptions, 'deviceId' | 'startMs' | 'firstSeq'>;
}

export interface FirmataWearableEvents {
  record: [record: DeviceRecord];
  /** Reporting is on; samples will follow. */
  attached: [];
}

export interface FirmataWearableStats extends PulseStepRecorderStats {
  samples: number;
  stepEdges: number;
  /** Analog readings above the board's ADC resolution. */
  outOfRange: number;
  beats: BeatDetectorStats;
  steps: StepCounterStats;
}

export class FirmataWearable extends EventEmitter<FirmataWearableEvents> {
  readonly board: Board;
  readonly samplingIntervalMs: number;
  private readonly io: FirmataIo;
  private readonly channel: number;
  private readonly stepPin: number;
  private recorder: PulseStepRecorder | null = null;
  private samples = 0;
  private stepEdges = 0;
  private outOfRange = 0;
  private pendingLevel: number | null = null;
  private attached = false;
  private readonly onAnalog = (v: number): void => this.analog(v);
  private readonly onDigital = (v: number): void => this.digital(v);

  constructor(private readonly opts: FirmataWearableOptions) {
    super();
    if (!opts.board) throw new TypeError('FirmataWearable needs { board } (a johnny-five Board)');
    this.board = opts.board;
    this.io = opts.board.io as FirmataIo;
    this.channel = analogChannel(opts.pulsePin ?? 'A0');
    this.stepPin = opts.stepPin ?? 2;
    this.samplingIntervalMs = opts.samplingIntervalMs ?? 20;
    if (!Number.isInteger(this.samplingIntervalMs) || this.samplingIntervalMs < 10 || this.samplingIntervalMs > 1000) {
      // firmata-io clamps below 10 ms, which would silently break the sample clock.
      throw new RangeError(`samplingIntervalMs must be an integer 10..1000, got ${opts.samplingIntervalMs}`);
    }
    if (this.board.isReady) this.attach();
    else this.board.on('ready', () => this.attach());
  }

  get stats(): FirmataWearableStats {
    const r = this.recorder;
    return {
      pulseSamples: r?.stats.pulseSamples ?? 0,
      badSamples: r?.stats.badSamples ?? 0,
      records: r?.stats.records ?? 0,
      samples: this.samples,
      stepEdges: this.stepEdges,
      outOfRange: this.outOfRange,
      beats: r ? { ...r.beats.stats } : { samples: 0, beats: 0, ibisAccepted: 0, ibisRefused: 0, resets: 0 },
      steps: r ? { ...r.steps.stats } : { steps: 0, bouncesIgnored: 0, stepsRefused: 0 },
    };
  }

  /** Turns reporting off and stops listening. */
  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    this.io.removeListener(`analog-read-${this.channel}`, this.onAnalog);
    this.io.removeListener(`digital-read-${this.stepPin}`, this.onDigital);
    this.io.reportAnalogPin(this.channel, 0);
    this.io.reportDigitalPin(this.stepPin, 0);
  }

  private attach(): void {
    if (this.attached) return;
    this.attached = true;
    const io = this.io;
    if (io.analogPins[this.channel] === undefined) {
      throw new RangeError(`FirmataWearable: the board has no analog channel ${this.channel} (it has ${io.analogPins.length})`);
    }
    // Interval first: the sample clock is only right once the board samples at it.
    io.setSamplingInterval(this.samplingIntervalMs);
    io.pinMode(this.stepPin, this.opts.stepPullup ? io.MODES.PULLUP : io.MODES.INPUT);
    io.pinMode(this.channel, io.MODES.ANALOG);
    io.digitalRead(this.stepPin, this.onDigital);
    io.analogRead(this.channel, this.onAnalog);
    this.emit('attached');
  }

  private analog(value: number): void {
    const t = this.samples * this.samplingIntervalMs;
    this.samples++;
    let rec = this.recorder;
    if (rec === null) {
      rec = this.recorder = new PulseStepRecorder({
        ...this.opts.recorder,
        deviceId: this.opts.deviceId,
        startMs: this.opts.startMs ?? Date.now(),
        firstSeq: this.opts.firstSeq,
      });
      const fw = this.io.firmware;
      this.emit('record', rec.deviceInfo([fw.version?.major ?? 0, fw.version?.minor ?? 0, 0], fw.name ?? 'Firmata board', 0));
      if (this.pendingLevel !== null) rec.stepLevel(this.pendingLevel, 0);
    }
    const adcMax = this.io.RESOLUTION.ADC ?? 1023;
    if (value > adcMax) {
      this.outOfRange++;
      value = Number.NaN; // counted by the recorder as a bad sample; the clock still advances
    }
    for (const r of rec.pulseSample(value, t)) this.emit('record', r);
  }

  private digital(level: number): void {
    this.stepEdges++;
    // Dated by the sample in progress: the board sends port changes before that pass's analog values.
    if (this.recorder === null) this.pendingLevel = level;
    else this.recorder.stepLevel(level, this.samples * this.samplingIntervalMs);
  }
}

function analogChannel(pin: string | number): number {
  if (typeof pin === 'number' && Number.isInteger(pin) && pin >= 0 && pin < 16) return pin;
  if (typeof pin === 'string' && /^A\d{1,2}$/i.test(pin)) {
    const ch = Number(pin.slice(1));
    if (ch < 16) return ch;
  }
  throw new RangeError(`pulsePin must be 'A0'..'A15' or an analog channel number, got ${JSON.stringify(pin)}`);
}
