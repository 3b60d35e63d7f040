/** Packaging the gateway for a single-board computer (issue 9). See README.md here. */
export { ARCHES, buildGatewayPackage, checkVersion, listFiles, writeChecksums, writePackageSkeleton, type PackageOptions, type PackageResult } from './build.ts';
export { ELF_MACHINE, classifyBinary, findNativeFiles, foreignBinaries, type Arch, type BinaryKind, type NativeFile } from './native-binaries.ts';
export { EXTERNAL_PACKAGES, copyRuntimeDependencies, dependencyClosure, keepFile } from './runtime-deps.ts';
export { ABSENT_PACKAGES, SOURCE_EDITS, bundleGateway } from './bundle.ts';
export { firstBoot, type FirstBootResult } from './first-boot.ts';
export { createNotifier, probeHealth, watchdogIntervalMs, type Notifier, type NotifyEnv, type SendNotify } from './sd-notify.ts';
