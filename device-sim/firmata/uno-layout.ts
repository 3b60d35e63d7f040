/**
 * The Arduino Uno as StandardFirmata 2.5 describes it (Boards.h and StandardFirmata.ino's
 * capability reply): 20 pins; 2-19 digital; A0-A5 are pins 14-19 with 10-bit ADCs; PWM on
 * 3, 5, 6, 9, 10, 11; servo on 2-13; I2C on A4/A5 (18, 19); pins 0 and 1 are the serial port.
 */
import { PIN_MODE } from './firmata-protocol.ts';

export interface PinCapability {
  /** mode -> resolution in bits */
  modes: ReadonlyMap<number, number>;
  /** Analog channel, or undefined for a pin without an ADC. */
  analogChannel?: number;
}

export interface BoardLayout {
  name: string;
  pins: readonly PinCapability[];
  /** Mode each pin takes at reset (StandardFirmata: analog pins ANALOG, other digital pins OUTPUT). */
  resetMode(pin: number): number | undefined;
  adcMax: number;
}

const PWM_PINS = new Set([3, 5, 6, 9, 10, 11]);
const I2C_PINS = new Set([18, 19]);

function unoPin(pin: number): PinCapability {
  const modes = new Map<number, number>();
  if (pin === 0 || pin === 1) {
    modes.set(PIN_MODE.SERIAL, pin); // RES_RX0 = 0, RES_TX0 = 1
    return { modes };
  }
  modes.set(PIN_MODE.INPUT, 1);
  modes.set(PIN_MODE.PULLUP, 1);
  modes.set(PIN_MODE.OUTPUT, 1);
  const analogChannel = pin >= 14 ? pin - 14 : undefined;
  if (analogChannel !== undefined) modes.set(PIN_MODE.ANALOG, 10);
  if (PWM_PINS.has(pin)) modes.set(PIN_MODE.PWM, 8);
  if (pin <= 13) modes.set(PIN_MODE.SERVO, 14);
  if (I2C_PINS.has(pin)) modes.set(PIN_MODE.I2C, 1);
  return { modes, analogChannel };
}

export const UNO: BoardLayout = {
  name: 'Arduino Uno',
  pins: Array.from({ length: 20 }, (_, p) => unoPin(p)),
  resetMode: (pin) => (pin >= 14 ? PIN_MODE.ANALOG : pin >= 2 ? PIN_MODE.OUTPUT : undefined),
  adcMax: 1023,
};
