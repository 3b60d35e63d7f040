/** Firmata boards through johnny-five: a pulse sensor and a step line as DeviceRecords. */
export { BeatDetector, type Beat, type BeatDetectorOptions, type BeatDetectorStats } from './beat-detector.ts';
export { StepCounter, type StepCounterOptions, type StepCounterStats } from './step-counter.ts';
export { PulseStepRecorder, type PulseStepRecorderOptions, type PulseStepRecorderStats } from './pulse-step-recorder.ts';
export { FirmataWearable, type FirmataWearableOptions, type FirmataWearableEvents, type FirmataWearableStats } from './firmata-wearable.ts';
export {
  openFirmataBoard,
  loadJohnnyFive,
  loadFirmataIo,
  type OpenFirmataBoardOptions,
  type OpenedFirmataBoard,
  type FirmataIo,
  type JohnnyFive,
  type Board,
} from './load-johnny-five.ts';
