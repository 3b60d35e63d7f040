/**
 * esbuild bundle of gateway-main.ts: one ESM file for node20, every pure-JS dependency inside,
 * only the native addons (runtime-deps.ts) left as imports.
 */
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import type { Plugin } from 'esbuild';
import { EXTERNAL_PACKAGES } from './runtime-deps.ts';

/**
 * Reachable through folders' index.ts files but never run by a gateway: the BLE and Firmata
 * transports (firmware-bindings, device-sim) and the broker's LevelDB/Redis persistence (the
 * gateway imports broker/ only for topic names). Each becomes a stub that throws when used, so
 * their native addons stay out of the package.
 */
export const ABSENT_PACKAGES = ['@abandonware/noble', 'johnny-five', 'firmata-io', 'classic-level', 'aedes-persistence-level', 'aedes-persistence-redis'];

/** Exact source edits made while bundling; each must match, so a change upstream fails the build loudly. */
export const SOURCE_EDITS: { file: string; from: string; to: string; why: string }[] = [
  {
    file: 'privacy/accountant-registry.ts',
    from: "new URL('./prv/index.ts', import.meta.url).href",
    to: "'./prv/index.ts'",
    why: 'a computed specifier is not bundled; a literal one is, so the prv accountant ships inside the bundle',
  },
];

const absentStub = (name: string): string => `
const fail = (what) => { throw new Error(${JSON.stringify(name)} + ' is not part of the fedwear gateway package (' + String(what) + ')'); };
const stub = new Proxy(function () {}, {
  get(_t, prop) { return prop === '__esModule' || typeof prop === 'symbol' ? undefined : function () { fail(prop); }; },
  apply() { fail('call'); },
  construct() { fail('new'); },
});
module.exports = stub;
`;

function gatewayPlugin(projectRoot: string): Plugin {
  const absent = new Set(ABSENT_PACKAGES);
  return {
    name: 'fedwear-gateway',
    setup(build) {
      build.onResolve({ filter: /^[@a-z]/ }, (args) => {
        const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
        return absent.has(name) ? { path: name, namespace: 'fedwear-absent' } : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: 'fedwear-absent' }, (args) => ({ contents: absentStub(args.path), loader: 'js' }));
      for (const edit of SOURCE_EDITS) {
        const target = path.join(projectRoot, edit.file);
        const escaped = path.basename(target).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        build.onLoad({ filter: new RegExp(`${escaped}$`) }, (args) => {
          if (path.resolve(args.path) !== target) return undefined;
          const text = fs.readFileSync(target, 'utf8');
          if (!text.includes(edit.from)) throw new Error(`bundle: ${edit.file} no longer contains ${edit.from} (${edit.why}); update SOURCE_EDITS`);
          return { contents: text.replace(edit.from, edit.to), loader: 'ts' };
        });
      }
    },
  };
}

// CommonJS packages inside an ESM bundle still call require() and read __dirname.
const BANNER = [
  "import { createRequire as __fwCreateRequire } from 'node:module';",
  "import { fileURLToPath as __fwFileURLToPath } from 'node:url';",
  "import { dirname as __fwDirname } from 'node:path';",
  'const require = __fwCreateRequire(import.meta.url);',
  'const __filename = __fwFileURLToPath(import.meta.url);',
  'const __dirname = __fwDirname(__filename);',
].join('\n');

export interface BundleResult {
  bytes: number;
  /** Bare imports left in the output (must all be shipped in node_modules). */
  externals: string[];
  /** name@version of every npm package inside the bundle (listed in THIRD-PARTY-LICENSES.txt). */
  bundled: string[];
}

export async function bundleGateway(projectRoot: string, outFile: string): Promise<BundleResult> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    absWorkingDir: projectRoot,
    entryPoints: [path.join(projectRoot, 'gateway/package/gateway-main.ts')],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    keepNames: true,
    legalComments: 'external',
    external: [...EXTERNAL_PACKAGES],
    plugins: [gatewayPlugin(projectRoot)],
    banner: { js: BANNER },
    metafile: true,
    logLevel: 'silent',
  });
  const out = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined);
  if (!out) throw new Error('bundle: esbuild produced no entry output');
  const externals = [...new Set(out.imports.filter((i) => i.external && !i.path.startsWith('node:') && !isBuiltin(i.path)).map((i) => i.path))].sort();
  const bundled = writeThirdPartyLicenses(projectRoot, Object.keys(out.inputs), path.join(path.dirname(outFile), 'THIRD-PARTY-LICENSES.txt'));
  return { bytes: out.bytes, externals, bundled };
}

/**
 * The bundle contains other people's code without their package folders, so their licence texts
 * go next to it: one section per bundled package (name, version, licence, LICENSE file).
 */
function writeThirdPartyLicenses(projectRoot: string, inputs: string[], file: string): string[] {
  const dirs = new Set<string>();
  for (const input of inputs) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]);
  }
  const sections: string[] = [];
  const names: string[] = [];
  for (const rel of [...dirs].sort()) {
    const dir = path.join(projectRoot, rel);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
    const licenseFile = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\..*)?$/i.test(f));
    const text = licenseFile ? fs.readFileSync(path.join(dir, licenseFile), 'utf8').trim() : '(no licence file in the package)';
    names.push(`${pkg.name}@${pkg.version}`);
    sections.push(`${pkg.name}@${pkg.version} (${pkg.license ?? 'see below'})\n${'-'.repeat(60)}\n${text}\n`);
  }
  fs.writeFileSync(file, `Packages bundled into fedwear-gateway.mjs, with their licences.\n\n${sections.join('\n')}`);
  return names;
}

function isBuiltin(p: string): boolean {
  return builtinModules.includes(p) || builtinModules.includes(p.split('/')[0]);
}
