/**
 * The packages the bundle leaves external, copied with their dependency closure from the build's
 * node_modules, and pruned to one platform. Native addons find their binaries relative to their
 * own package folder at run time (node-gyp-build, onnxruntime-node's binding.js), so they cannot be
 * bundled; everything else is.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Arch } from './native-binaries.ts';

export const EXTERNAL_PACKAGES = ['serialport', 'onnxruntime-node'] as const;

/**
 * Dependencies that only their package's install or build step uses: onnxruntime-node's install
 * script downloads with adm-zip and global-agent; node-addon-api is C++ headers for node-gyp.
 */
const INSTALL_ONLY = new Set(['adm-zip', 'global-agent', 'node-addon-api']);

interface PackageJson {
  name: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** Node's lookup: `name` from a package at `fromDir`, walking up the node_modules folders. */
function resolvePackageDir(name: string, fromDir: string, root: string): string {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.resolve(dir) === path.resolve(root)) break;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`cannot find the package ${name} (needed from ${path.relative(root, fromDir) || '.'}); run npm ci`);
}

/** Package folders (absolute) of `roots` and everything they depend on at run time. */
export function dependencyClosure(roots: readonly string[], projectRoot: string): string[] {
  const seen = new Set<string>();
  const visit = (name: string, fromDir: string, optional: boolean): void => {
    if (INSTALL_ONLY.has(name)) return;
    let dir: string;
    try {
      dir = resolvePackageDir(name, fromDir, projectRoot);
    } catch (err) {
      if (optional) return;
      throw err;
    }
    if (seen.has(dir)) return;
    seen.add(dir);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep, dir, false);
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) visit(dep, dir, true);
  };
  for (const r of roots) visit(r, projectRoot, false);
  return [...seen].sort();
}

/**
 * Whether a file (path relative to its package, forward slashes) goes into a linux/<arch> package.
 * Other platforms' binaries, install scripts, sources and type declarations stay behind.
 */
export function keepFile(packageName: string, rel: string, arch: Arch): boolean {
  // Type declarations, source maps and C++ sources are not run; .js, .json, .node and licences are.
  if (/\.([cm]?ts|map|cc|cpp|h|hpp|gyp|gypi)$/.test(rel)) return false;
  if (rel.startsWith('node_modules/')) return false; // nested packages are copied as packages of their own
  if (packageName === 'onnxruntime-node') {
    if (rel.startsWith('script/')) return false;
    if (rel.startsWith('bin/')) return rel.startsWith(`bin/napi-v6/linux/${arch}/`);
  }
  if (packageName === '@serialport/bindings-cpp') {
    if (rel.startsWith('src/') || rel.startsWith('build/')) return false;
    if (rel.startsWith('prebuilds/')) return rel.startsWith(`prebuilds/linux-${arch}/`);
  }
  return true;
}

/** Copies the closure into `<outRoot>/node_modules/...`, keeping each package's place in the tree. */
export function copyRuntimeDependencies(projectRoot: string, outRoot: string, arch: Arch): { packages: string[] } {
  const dirs = dependencyClosure(EXTERNAL_PACKAGES, projectRoot);
  const names: string[] = [];
  for (const dir of dirs) {
    const rel = path.relative(projectRoot, dir);
    const name = (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson).name;
    names.push(rel.split(path.sep).join('/'));
    const copy = (from: string, relInPkg: string): void => {
      for (const ent of fs.readdirSync(from, { withFileTypes: true })) {
        const childRel = relInPkg ? `${relInPkg}/${ent.name}` : ent.name;
        const full = path.join(from, ent.name);
        if (ent.isDirectory()) {
          if (childRel === 'node_modules') continue;
          copy(full, childRel);
        } else if (ent.isFile() && keepFile(name, childRel, arch)) {
          const dest = path.join(outRoot, rel, childRel);
          fs.mkdirSync(path.dirname(dest), { recursive: true });
          fs.copyFileSync(full, dest);
        }
      }
    };
    copy(dir, '');
  }
  return { packages: names };
}
