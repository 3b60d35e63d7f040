/**
 * Which platform a native file is for, from its first bytes: the package must carry only the
 * target's binaries, and file names (e.g. "linux/x64") are only what a package's author claimed.
 */
import fs from 'node:fs';
import path from 'node:path';

export type Arch = 'x64' | 'arm64';

/** ELF e_machine values (System V ABI). */
export const ELF_MACHINE: Record<Arch, number> = { x64: 0x3e, arm64: 0xb7 };

export type BinaryKind =
  | { format: 'elf'; machine: number; bits: 32 | 64 }
  | { format: 'mach-o' }
  | { format: 'pe' }
  | { format: 'none' };

/** Reads the header of `bytes` (the first 64 are enough). */
export function classifyBinary(bytes: Uint8Array): BinaryKind {
  if (bytes.length >= 20 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    const little = bytes[5] === 1;
    const machine = little ? bytes[18] | (bytes[19] << 8) : (bytes[18] << 8) | bytes[19];
    return { format: 'elf', machine, bits: bytes[4] === 2 ? 64 : 32 };
  }
  if (bytes.length >= 4) {
    const be = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
    const le = ((bytes[3] << 24) | (bytes[2] << 16) | (bytes[1] << 8) | bytes[0]) >>> 0;
    // 32/64-bit Mach-O in either byte order, and the universal (fat) header.
    const macho = [0xfeedface, 0xfeedfacf, 0xcafebabe];
    if (macho.includes(be) || macho.includes(le)) return { format: 'mach-o' };
  }
  if (bytes.length >= 2 && bytes[0] === 0x4d && bytes[1] === 0x5a) return { format: 'pe' };
  return { format: 'none' };
}

export interface NativeFile {
  /** Relative to the scanned root, with forward slashes. */
  file: string;
  kind: Exclude<BinaryKind, { format: 'none' }>;
}

/** Every ELF, Mach-O or PE file under `root`. */
export function findNativeFiles(root: string): NativeFile[] {
  const found: NativeFile[] = [];
  const head = Buffer.alloc(64);
  const walk = (dir: string): void => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(full);
      else if (ent.isFile()) {
        const fd = fs.openSync(full, 'r');
        let n: number;
        try {
          n = fs.readSync(fd, head, 0, 64, 0);
        } finally {
          fs.closeSync(fd);
        }
        const kind = classifyBinary(head.subarray(0, n));
        // "MZ" alone is too weak for text files; PE files carry it at byte 0 and are binary.
        if (kind.format === 'pe' && !/\.(dll|exe|node|sys)$/i.test(ent.name)) continue;
        if (kind.format !== 'none') found.push({ file: path.relative(root, full).split(path.sep).join('/'), kind });
      }
    }
  };
  walk(root);
  return found.sort((a, b) => a.file.localeCompare(b.file));
}

/** The native files that do not belong in a linux/<arch> package. */
export function foreignBinaries(files: NativeFile[], arch: Arch): NativeFile[] {
  return files.filter((f) => f.kind.format !== 'elf' || f.kind.machine !== ELF_MACHINE[arch] || f.kind.bits !== 64);
}
