/** The Firmata board emulator's protocol core: bytes in, bytes out, no port and no clock. */
import { describe, expect, it } from 'vitest';
import { FirmataBoardCore, FirmataInputError, firmataProtocol as F } from '../../device-sim/index.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
const levels = (analog: Record<number, number>, digital: Record<number, 0 | 1>) => ({
  analog: (ch: number) => analog[ch] ?? 0,
  digital: (pin: number) => digital[pin] ?? 0,
});

describe('FirmataBoardCore', () => {
  it('announces REPORT_VERSION 2.5 then REPORT_FIRMWARE with the sketch name as 7-bit pairs', () => {
    const core = new FirmataBoardCore({ firmwareName: 'Ab.ino' });
    expect(hex(core.announce())).toBe('f90205' + 'f079' + '0205' + '4100' + '6200' + '2e00' + '6900' + '6e00' + '6f00' + 'f7');
    expect(hex(core.receive(bytes(0xf9)))).toBe('f90205');
    expect(hex(core.receive(bytes(0xf0, 0x79, 0xf7)))).toBe(hex(core.announce().subarray(3)));
    expect(core.hostSpoke).toBe(true);
  });

  it('answers CAPABILITY_QUERY with the Uno layout and ANALOG_MAPPING_QUERY with A0-A5 on pins 14-19', () => {
    const core = new FirmataBoardCore();
    const caps = core.receive(bytes(0xf0, 0x6b, 0xf7));
    expect([caps[0], caps[1], caps.at(-1)]).toEqual([0xf0, 0x6c, 0xf7]);
    const groups: number[][] = [];
    let cur: number[] = [];
    for (const b of caps.subarray(2, -1)) {
      if (b === 0x7f) {
        groups.push(cur);
        cur = [];
      } else cur.push(b);
    }
    expect(groups).toHaveLength(20);
    const modes = (pin: number) => new Map(Array.from({ length: groups[pin].length / 2 }, (_, i) => [groups[pin][2 * i], groups[pin][2 * i + 1]]));
    expect(modes(0)).toEqual(new Map([[F.PIN_MODE.SERIAL, 0]]));
    expect(modes(2)).toEqual(new Map([[0, 1], [0x0b, 1], [1, 1], [4, 14]]));
    expect(modes(3).get(F.PIN_MODE.PWM)).toBe(8);
    expect(modes(14).get(F.PIN_MODE.ANALOG)).toBe(10);
    expect(modes(18).get(F.PIN_MODE.I2C)).toBe(1);
    expect(hex(core.receive(bytes(0xf0, 0x69, 0xf7)))).toBe('f06a' + '7f'.repeat(14) + '000102030405' + 'f7');
  });

  it('reports analog channels every sample and a digital port only when an input changes', () => {
    const core = new FirmataBoardCore();
    core.receive(bytes(0xf0, 0x7a, 0x14, 0x00, 0xf7)); // SAMPLING_INTERVAL 20 ms
    expect(core.samplingIntervalMs).toBe(20);
    core.receive(bytes(0xf4, 2, 0)); // pin 2 INPUT
    // REPORT_DIGITAL on port 0 answers with the port at once
    expect(hex(core.receive(bytes(0xd0, 1)))).toBe('900000');
    core.receive(bytes(0xc0, 1)); // REPORT_ANALOG A0
    expect(hex(core.sample(levels({ 0: 700 }, {})))).toBe('e03c05'); // 700 = 0x2BC -> 3C 05
    expect(hex(core.sample(levels({ 0: 1023 }, { 2: 1 })))).toBe('900400' + 'e07f07');
    expect(hex(core.sample(levels({ 0: 5000 }, { 2: 1 })))).toBe('e07f07'); // clamped to the 10-bit ADC, port unchanged
    expect(hex(core.sample(levels({ 0: 0 }, { 2: 0, 3: 1 })))).toBe('900000' + 'e00000'); // pin 3 is an output: not reported
    core.receive(bytes(0xc0, 0));
    expect(core.sample(levels({}, {})).length).toBe(0);
  });

  it('SET_PIN_MODE ANALOG turns reporting on, another mode turns it off; SYSTEM_RESET clears reporting', () => {
    const core = new FirmataBoardCore();
    core.receive(bytes(0xf4, 15, 2));
    expect(core.isAnalogReporting(1)).toBe(true);
    core.receive(bytes(0xf4, 15, 1));
    expect(core.isAnalogReporting(1)).toBe(false);
    core.receive(bytes(0xf4, 15, 2, 0xf4, 4, 0, 0xd0, 1));
    expect(core.isDigitalReporting(4)).toBe(true);
    core.receive(bytes(0xf0, 0x7a, 0x0a, 0x00, 0xf7, 0xff));
    expect(core.isAnalogReporting(1)).toBe(false);
    expect(core.isDigitalReporting(4)).toBe(false);
    expect(core.pinMode(4)).toBe(F.PIN_MODE.OUTPUT);
    expect(core.pinMode(15)).toBe(F.PIN_MODE.ANALOG);
    expect(core.samplingIntervalMs).toBe(10); // kept across a reset, as on the board
  });

  it('answers PIN_STATE_QUERY with mode and the written value; keeps outputs from DIGITAL_MESSAGE and PWM writes', () => {
    const core = new FirmataBoardCore();
    core.receive(bytes(0xf4, 13, 1, 0x91, 0x20, 0x00)); // pin 13 OUTPUT, port 1 bit 5 high
    expect(core.outputValue(13)).toBe(1);
    expect(hex(core.receive(bytes(0xf0, 0x6d, 13, 0xf7)))).toBe('f06e0d0101f7');
    core.receive(bytes(0xf4, 9, 3, 0xe9, 0x7f, 0x01)); // pin 9 PWM 255
    expect(hex(core.receive(bytes(0xf0, 0x6d, 9, 0xf7)))).toBe('f06e09037f01f7');
    core.receive(bytes(0xf5, 13, 0));
    expect(core.outputValue(13)).toBe(0);
    expect(core.stats.rejected).toBe(0);
  });

  it('refuses bad host input with an error that names it, counts it by kind, and keeps parsing', () => {
    const errors: FirmataInputError[] = [];
    const core = new FirmataBoardCore({ onError: (e) => errors.push(e) });
    const input = [
      0x05, // stray data byte
      0xa5, // unknown command
      0xf4, 25, 0, // no pin 25
      0xf4, 14, 3, // A0 cannot do PWM
      0xf4, 2, // SET_PIN_MODE cut short...
      0xf9, // ...by REPORT_VERSION, which still gets its answer
      0xf0, 0x33, 1, 2, 0xf7, // unsupported sysex
      0xf0, 0x7a, 5, 0xf7, // SAMPLING_INTERVAL with one byte
      0xf7, // END_SYSEX alone
      0xe3, 1, 0, // analog write to pin 3, which is an OUTPUT
      0xf0, 0x71, ...new Array<number>(70).fill(0x41), 0xf7, // sysex over 64 bytes (then its tail is stray)
    ];
    const out = core.receive(Uint8Array.from(input));
    expect(hex(out)).toBe('f90205');
    expect(errors.map((e) => e.message)).toEqual([
      'framing: data byte 0x05 outside any message',
      'unknownCommand: unknown command byte 0xA5',
      'badPin: SET_PIN_MODE: pin 25 does not exist or is reserved on Arduino Uno (usable pins 2..19)',
      'badMode: SET_PIN_MODE: pin 14 cannot be PWM (it supports INPUT, PULLUP, OUTPUT, ANALOG)',
      'framing: SET_PIN_MODE cut short by 0xF9 after 1 data byte(s)',
      'unsupportedSysex: sysex command 0x33 is not supported by this board (StandardFirmata without I2C, servo or serial features)',
      'badLength: SAMPLING_INTERVAL wants 2 data bytes (LSB, MSB), got 1',
      'framing: END_SYSEX (0xF7) without a START_SYSEX',
      'badMode: analog write to pin 3, which is in mode OUTPUT, not PWM or SERVO',
      'badLength: sysex 0x71 longer than 64 bytes',
      ...new Array<string>(6).fill('framing: data byte 0x41 outside any message'), // 70 - 63 kept - 1 that overflowed
      'framing: END_SYSEX (0xF7) without a START_SYSEX',
    ]);
    expect(core.stats.rejected).toBe(errors.length);
    expect(core.stats.errors).toEqual({ framing: 10, unknownCommand: 1, unsupportedSysex: 1, badPin: 1, badMode: 2, badLength: 2 });
    expect(core.samplingIntervalMs).toBe(19); // the bad SAMPLING_INTERVAL changed nothing
    // and it still works afterwards
    expect(hex(core.receive(bytes(0xf9)))).toBe('f90205');
  });
});
