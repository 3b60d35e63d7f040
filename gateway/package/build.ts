/**
 * `fedwear gateway package`: the tarball a board installs from.
 *
 *   fedwear-gateway-<version>-linux-<arch>/
 *     bin/fedwear-gateway.mjs, bin/fedwear-gateway    launchers (node; shell)
 *     lib/gateway/fedwear-gateway.mjs                   the bundle (two folders deep: the service's
 *                                                       default base model is ../../models/base)
 *     node_modules/                                     serialport, onnxruntime-node and their closure, linux/<arch> only
 *     models/base/                                      the base model
 *     share/{gateway.yaml, gateway.example.yaml, systemd/, udev/}
 *     install.sh, uninstall.sh, README.md, VERSION, BUILD.json, SHA256SUMS
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { bundleGateway } from './bundle.ts';
import { findNativeFiles, foreignBinaries, type Arch } from './native-binaries.ts';
import { EXTERNAL_PACKAGES, copyRuntimeDependencies } from './runtime-deps.ts';

export const ARCHES: readonly Arch[] = ['x64', 'arm64'];
const PROJECT_ROOT = path.resolve(import.meta.dirname, '../..');
const ASSETS = path.join(import.meta.dirname, 'assets');

export interface PackageOptions {
  arch: Arch;
  outDir: string;
  /** Default: package.json's version. */
  version?: string;
  projectRoot?: string;
}

export interface PackageResult {
  tarball: string;
  name: string;
  version: string;
  arch: Arch;
  tarballBytes: number;
  unpackedBytes: number;
  bundleBytes: number;
  files: number;
  nodeModules: string[];
}

/** ws's optional native speed-ups: required inside try/catch, so their absence is handled. */
const OPTIONAL_IMPORTS = ['bufferutil', 'utf-8-validate'];

const LAUNCHER = `#!/usr/bin/env node
// The bundle lives in lib/gateway/ so that the service's default base model (../../models/base) is models/base.
await import('../lib/gateway/fedwear-gateway.mjs');
`;

function projectVersion(root: string): string {
  return (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

export function checkVersion(version: string): string {
  if (!/^[0-9A-Za-z][0-9A-Za-z.+_-]*$/.test(version)) throw new Error(`version: expected letters, digits and . + _ - (it names a folder), got "${version}"`);
  return version;
}

function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

/**
 * Everything but the bundle and node_modules: launchers, scripts, service files, templates,
 * model, VERSION. Exported so the installer can be tested without a build.
 */
export function writePackageSkeleton(dir: string, opts: { version: string; arch: Arch; projectRoot?: string }): void {
  const root = opts.projectRoot ?? PROJECT_ROOT;
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'bin/fedwear-gateway.mjs'), LAUNCHER, { mode: 0o755 });
  fs.copyFileSync(path.join(ASSETS, 'fedwear-gateway'), path.join(dir, 'bin/fedwear-gateway'));
  for (const script of ['install.sh', 'uninstall.sh']) fs.copyFileSync(path.join(ASSETS, script), path.join(dir, script));
  for (const exe of ['bin/fedwear-gateway', 'install.sh', 'uninstall.sh']) fs.chmodSync(path.join(dir, exe), 0o755);
  fs.mkdirSync(path.join(dir, 'share/systemd'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'share/udev'), { recursive: true });
  fs.copyFileSync(path.join(ASSETS, 'fedwear-gateway.service'), path.join(dir, 'share/systemd/fedwear-gateway.service'));
  fs.copyFileSync(path.join(ASSETS, '99-fedwear-wearable.rules'), path.join(dir, 'share/udev/99-fedwear-wearable.rules'));
  fs.copyFileSync(path.join(ASSETS, 'gateway.yaml'), path.join(dir, 'share/gateway.yaml'));
  fs.copyFileSync(path.join(root, 'gateway/gateway.example.yaml'), path.join(dir, 'share/gateway.example.yaml'));
  fs.copyFileSync(path.join(import.meta.dirname, 'README.md'), path.join(dir, 'README.md'));
  copyDir(path.join(root, 'models/base'), path.join(dir, 'models/base'));
  fs.writeFileSync(path.join(dir, 'VERSION'), opts.version + '\n');
  fs.writeFileSync(path.join(dir, 'BUILD.json'), JSON.stringify({ name: 'fedwear-gateway', version: opts.version, platform: 'linux', arch: opts.arch, node: '>=20.11' }, null, 2) + '\n');
}

/** All regular files under `dir`, relative, sorted (forward slashes). */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const ent of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (ent.isDirectory()) walk(path.join(d, ent.name), r);
      else if (ent.isFile()) out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** SHA256SUMS in sha256sum(1)'s format, covering every file but itself. */
export function writeChecksums(dir: string): number {
  const files = listFiles(dir).filter((f) => f !== 'SHA256SUMS');
  const lines = files.map((f) => `${createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex')}  ${f}`);
  fs.writeFileSync(path.join(dir, 'SHA256SUMS'), lines.join('\n') + '\n');
  return files.length;
}

export async function buildGatewayPackage(opts: PackageOptions): Promise<PackageResult> {
  const root = opts.projectRoot ?? PROJECT_ROOT;
  if (!ARCHES.includes(opts.arch)) throw new Error(`--arch: expected one of ${ARCHES.join(', ')}, got "${String(opts.arch)}"`);
  const version = checkVersion(opts.version ?? projectVersion(root));
  const name = `fedwear-gateway-${version}-linux-${opts.arch}`;
  fs.mkdirSync(opts.outDir, { recursive: true });
  const work = fs.mkdtempSync(path.join(path.resolve(opts.outDir), '.staging-'));
  try {
    const dir = path.join(work, name);
    fs.mkdirSync(dir);
    const bundle = await bundleGateway(root, path.join(dir, 'lib/gateway/fedwear-gateway.mjs'));
    const shipped = new Set<string>([...EXTERNAL_PACKAGES, ...OPTIONAL_IMPORTS]);
    const missing = bundle.externals.filter((e) => !shipped.has(e.startsWith('@') ? e.split('/').slice(0, 2).join('/') : e.split('/')[0]));
    if (missing.length) throw new Error(`bundle: imports packages that are not shipped: ${missing.join(', ')}`);
    const deps = copyRuntimeDependencies(root, dir, opts.arch);
    writePackageSkeleton(dir, { version, arch: opts.arch, projectRoot: root });

    const foreign = foreignBinaries(findNativeFiles(dir), opts.arch);
    if (foreign.length) throw new Error(`package: native files not for linux-${opts.arch}: ${foreign.map((f) => f.file).join(', ')}`);
    const files = writeChecksums(dir);
    const unpackedBytes = listFiles(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);

    const tarball = path.join(path.resolve(opts.outDir), `${name}.tar.gz`);
    // Reproducible-ish and owner-neutral: files unpack as whoever extracts them.
    execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-czf', tarball, '-C', work, name], { stdio: ['ignore', 'ignore', 'pipe'] });
    return {
      tarball,
      name,
      version,
      arch: opts.arch,
      tarballBytes: fs.statSync(tarball).size,
      unpackedBytes,
      bundleBytes: bundle.bytes,
      files,
      nodeModules: deps.packages,
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
