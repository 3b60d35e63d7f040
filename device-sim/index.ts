/** Public face of device-sim: simulated users, their wearables, ground truth, datasets, frame output. */
export { Rng, makeRng, hashSeed, type SeedPart } from './rng.ts';
export {
  kcalPerMinFromVo2,
  vo2FromKcalPerMin,
  mifflinStJeorRmr,
  tanakaHrMax,
  acsmWalkingVo2,
  acsmRunningVo2,
  acsmRunningSpeedForVo2,
  hrFromVo2Reserve,
  vo2ReserveFraction,
  walkingStepLengthM,
  type Sex,
} from './equations.ts';
export { ACTIVITY_KINDS, activityCode, activityFromCode, FIXED_MET, type ActivityKind } from './activities.ts';
export { CLUSTER_NAMES, CLUSTERS, clusterSpec, isClusterName, type ClusterName, type ClusterSpec, type SessionSpec } from './clusters.ts';
export {
  makeUsers,
  makeUser,
  assignClusters,
  vo2maxNorm,
  type UserProfile,
  type DeviceTraits,
  type Habits,
  type MakeUsersOptions,
  type MakeUserOptions,
  type ClusterChoice,
} from './users.ts';
export { makeSchedule, checkSchedule, defaultScheduleMode, type Bout, type ScheduleMode, type ScheduleOptions } from './schedule.ts';
export { resolveSimOptions, MAX_DURATION_S, type SimOptions } from './options.ts';
export type { TruthSample } from './physiology.ts';
export { dropoutRateFor, type WristReading } from './sensors.ts';
export {
  simulateDevice,
  simulateTicks,
  simulateTruth,
  truthWindows,
  LABEL_WINDOW_S,
  BATTERY_INTERVAL_S,
  type SimTick,
  type DeviceTruth,
  type TruthWindow,
} from './device.ts';
export { simulateMany, mergeByTime } from './merge.ts';
export {
  writeDataset,
  readDatasetManifest,
  readDatasetRecords,
  readDatasetTruth,
  readJsonl,
  DATASET_FORMAT,
  DATASET_VERSION,
  type DatasetOptions,
  type DatasetManifest,
  type DatasetUserEntry,
  type TruthRow,
} from './dataset.ts';
export {
  pumpFrames,
  writableSink,
  serialSink,
  openSerialSink,
  openFileSink,
  stdoutSink,
  realClock,
  type FrameSink,
  type SerialPortLike,
  type Clock,
  type PumpOptions,
  type PumpStats,
} from './stream-out.ts';
export { parseSimCommand, runSimCommand, DEFAULT_BAUD, type SimCommand, type SimOutput, type SimIo, type SimSummary } from './sim-command.ts';
export * from './ble/index.ts';
export * from './firmata/index.ts';
export { startPtyPair, socatAvailable, type PtyPair } from './pty-pair.ts';
