/** The arm64 package (a Raspberry Pi's 64-bit OS), built by `fedwear gateway package`, carries aarch64 binaries and nothing else native. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ELF_MACHINE, findNativeFiles, listFiles } from '../../gateway/package/index.ts';
import { buildAndUnpack, removeTempDirs, type Unpacked } from './helpers.ts';

let pkg: Unpacked;
beforeAll(async () => {
  pkg = await buildAndUnpack('arm64', '0.1.0-test.arm', 'cli');
}, 180_000);
afterAll(removeTempDirs);

/** e_machine straight from the file (offset 18, little-endian on both targets), not via the packager's reader. */
function elfMachine(file: string): number {
  const head = Buffer.alloc(20);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 20, 0);
  } finally {
    fs.closeSync(fd);
  }
  expect(head.subarray(0, 4).toString('latin1'), file).toBe('\x7fELF');
  expect(head[4], `${file}: ELFCLASS64`).toBe(2);
  expect(head[5], `${file}: little-endian`).toBe(1);
  return head.readUInt16LE(18);
}

describe('the arm64 package', () => {
  it('holds only aarch64 ELF binaries, for serialport and onnxruntime', () => {
    const natives = findNativeFiles(pkg.dir).map((n) => n.file);
    expect(natives).toEqual(
      expect.arrayContaining([
        'node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node',
        'node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1',
        expect.stringMatching(/^node_modules\/@serialport\/bindings-cpp\/prebuilds\/linux-arm64\/.*glibc\.node$/),
      ]),
    );
    for (const f of natives) expect(elfMachine(path.join(pkg.dir, f)), f).toBe(0xb7);
    expect(ELF_MACHINE.arm64).toBe(0xb7);
    // Any file named like a binary is among the ones checked above.
    const binaryNamed = listFiles(pkg.dir).filter((f) => /\.(node|so(\.\d+)*|dylib|dll|exe)$/.test(f));
    expect(binaryNamed.sort()).toEqual([...natives].sort());
    console.log(`arm64 package: ${(pkg.result.tarballBytes / 1e6).toFixed(1)} MB tar.gz, ${(pkg.result.unpackedBytes / 1e6).toFixed(1)} MB unpacked`);
  });

  it('has no x64 or other-platform folders', () => {
    expect(listFiles(pkg.dir).filter((f) => /(prebuilds|napi-v\d+)\/.*(darwin|win32|x64|ia32|android|linux-arm\/)/.test(f))).toEqual([]);
    expect(JSON.parse(fs.readFileSync(path.join(pkg.dir, 'BUILD.json'), 'utf8'))).toMatchObject({ platform: 'linux', arch: 'arm64' });
  });
});

describe('fedwear gateway package', () => {
  it('refuses an architecture it cannot package, naming the choices', () => {
    const r = spawnSync(process.execPath, [path.resolve(import.meta.dirname, '../../bin/fedwear.mjs'), 'gateway', 'package', '--arch', 'armhf', '--out', 'x'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--arch <arch>' argument 'armhf' is invalid\. Allowed choices are arm64, x64/);
  });
});
