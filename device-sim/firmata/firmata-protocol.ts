/**
 * Firmata protocol 2.5 byte values a StandardFirmata board understands, and 7-bit helpers.
 * Source: the Firmata protocol documents (firmata/protocol: protocol.md, pin-state-query.md,
 * capability-query.md) and StandardFirmata.ino 2.5. Firmata frames commands like MIDI: a byte with
 * the top bit set starts a message, data bytes are 7-bit; sysex is F0 <command> <7-bit data> F7.
 */

export const ANALOG_MESSAGE = 0xe0; // | channel: value LSB, MSB
export const DIGITAL_MESSAGE = 0x90; // | port: 8 pin bits as LSB (bits 0-6), MSB (bit 7)
export const REPORT_ANALOG = 0xc0; // | channel: 0/1
export const REPORT_DIGITAL = 0xd0; // | port: 0/1
export const SET_PIN_MODE = 0xf4; // pin, mode
export const SET_DIGITAL_PIN_VALUE = 0xf5; // pin, value
export const REPORT_VERSION = 0xf9; // board answers F9 major minor
export const SYSTEM_RESET = 0xff;
export const START_SYSEX = 0xf0;
export const END_SYSEX = 0xf7;

export const SYSEX = {
  ANALOG_MAPPING_QUERY: 0x69,
  ANALOG_MAPPING_RESPONSE: 0x6a,
  CAPABILITY_QUERY: 0x6b,
  CAPABILITY_RESPONSE: 0x6c,
  PIN_STATE_QUERY: 0x6d,
  PIN_STATE_RESPONSE: 0x6e,
  EXTENDED_ANALOG: 0x6f,
  STRING_DATA: 0x71,
  REPORT_FIRMWARE: 0x79,
  SAMPLING_INTERVAL: 0x7a,
} as const;

export const PIN_MODE = {
  INPUT: 0x00,
  OUTPUT: 0x01,
  ANALOG: 0x02,
  PWM: 0x03,
  SERVO: 0x04,
  I2C: 0x06,
  SERIAL: 0x0a,
  PULLUP: 0x0b,
} as const;

export const PIN_MODE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(PIN_MODE).map(([k, v]) => [v, k]));

/** StandardFirmata 2.5.x reports protocol version 2.5. */
export const PROTOCOL_VERSION: readonly [number, number] = [2, 5];

/** StandardFirmata's buffer for one sysex message (MAX_DATA_BYTES). */
export const MAX_SYSEX_BYTES = 64;

/** A value as 7-bit LSB, MSB (14 bits). */
export function twoSevenBit(value: number): [number, number] {
  return [value & 0x7f, (value >> 7) & 0x7f];
}

/** Firmware names travel as one LSB/MSB pair per character. */
export function encodeFirmwareName(name: string): number[] {
  const out: number[] = [];
  for (const ch of Buffer.from(name, 'latin1')) out.push(...twoSevenBit(ch));
  return out;
}

export function hex2(b: number): string {
  return `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;
}
