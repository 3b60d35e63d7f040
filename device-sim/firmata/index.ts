/** A StandardFirmata board emulator (Uno) whose pulse sensor and step line follow a simulated wearer. */
export * as firmataProtocol from './firmata-protocol.ts';
export { UNO, type BoardLayout, type PinCapability } from './uno-layout.ts';
export {
  FirmataBoardCore,
  FirmataInputError,
  FIRMATA_INPUT_ERROR_KINDS,
  DEFAULT_SAMPLING_INTERVAL_MS,
  type FirmataInputErrorKind,
  type FirmataCoreStats,
  type FirmataCoreOptions,
  type InputLevels,
} from './board-core.ts';
export { PulseWaveform, type PulseWaveformOptions } from './pulse-waveform.ts';
export { SimulatedWearer, type SimulatedWearerOptions, type WearerSample, type WearerTruth } from './simulated-wearer.ts';
export {
  FirmataBoardEmulator,
  type FirmataBoardEmulatorOptions,
  type FirmataBoardEmulatorEvents,
  type FirmataBoardEmulatorStats,
  type WearerSignals,
} from './serial-board.ts';
