/** Builds a package once per test file and unpacks it in an empty folder outside the repository. */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildGatewayPackage, type Arch, type PackageResult } from '../../gateway/package/index.ts';

const dirs: string[] = [];
export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `fedwear-pkg-${prefix}-`));
  dirs.push(d);
  return d;
}
export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export interface Unpacked {
  result: PackageResult;
  /** The unpacked package's root (…/fedwear-gateway-<version>-linux-<arch>). */
  dir: string;
}

const REPO = path.resolve(import.meta.dirname, '../..');

/** `via: 'cli'` builds with `fedwear gateway package`, as a user would; 'api' calls buildGatewayPackage. */
export async function buildAndUnpack(arch: Arch, version: string, via: 'api' | 'cli' = 'api'): Promise<Unpacked> {
  const out = tempDir(`out-${arch}`);
  const result = via === 'api' ? await buildGatewayPackage({ arch, outDir: out, version }) : await buildWithCli(arch, out, version);
  const unpackTo = tempDir(`unpacked-${arch}`);
  execFileSync('tar', ['-xzf', result.tarball, '-C', unpackTo]);
  return { result, dir: path.join(unpackTo, result.name) };
}

async function buildWithCli(arch: Arch, out: string, version: string): Promise<PackageResult> {
  const child = spawn(process.execPath, [path.join(REPO, 'bin/fedwear.mjs'), 'gateway', 'package', '--arch', arch, '--out', out, '--release', version], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`fedwear gateway package exited ${code}: ${stderr}`);
  // The size line a user sees, then the JSON result.
  if (!/\.tar\.gz: [\d.]+ MB \([\d.]+ MB unpacked, \d+ files\)/.test(stderr)) throw new Error(`no size line in: ${stderr}`);
  return JSON.parse(stdout) as PackageResult;
}
