/** The packager's small parts: key permissions, ELF headers, systemd notify, pruning, first boot, the unit. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertOwnerOnly } from '../../gateway/index.ts';
import { classifyBinary, createNotifier, firstBoot, foreignBinaries, keepFile, watchdogIntervalMs } from '../../gateway/package/index.ts';
import { readPrivateKeyFile } from '../../privacy/index.ts';
import { removeTempDirs, tempDir } from './helpers.ts';

afterAll(removeTempDirs);
const ASSETS = path.resolve(import.meta.dirname, '../../gateway/package/assets');

describe('assertOwnerOnly', () => {
  const dir = tempDir('perm');
  const file = path.join(dir, 'key.pem');
  fs.writeFileSync(file, 'x');

  it.each([0o600, 0o400])('accepts mode %o', (mode) => {
    fs.chmodSync(file, mode);
    expect(() => assertOwnerOnly(file)).not.toThrow();
  });
  it.each([0o644, 0o640, 0o604, 0o620, 0o666])('refuses mode %o and says how to fix it', (mode) => {
    fs.chmodSync(file, mode);
    expect(() => assertOwnerOnly(file, 'signing key')).toThrow(`signing key: ${file} has mode ${mode.toString(8)}`);
    expect(() => assertOwnerOnly(file)).toThrow(`chmod 600 ${file}`);
  });
  it('refuses a missing file and a folder', () => {
    expect(() => assertOwnerOnly(path.join(dir, 'nope'))).toThrow(/cannot read .*ENOENT/);
    fs.mkdirSync(path.join(dir, 'd'), { mode: 0o700 });
    expect(() => assertOwnerOnly(path.join(dir, 'd'))).toThrow(/not a regular file/);
  });
});

describe('classifyBinary', () => {
  const elf = (machine: number, cls = 2): Uint8Array => {
    const b = new Uint8Array(64);
    b.set([0x7f, 0x45, 0x4c, 0x46, cls, 1, 1]);
    b[18] = machine & 0xff;
    b[19] = machine >> 8;
    return b;
  };
  it('reads e_machine from ELF headers', () => {
    expect(classifyBinary(elf(0xb7))).toEqual({ format: 'elf', machine: 0xb7, bits: 64 });
    expect(classifyBinary(elf(0x3e))).toEqual({ format: 'elf', machine: 0x3e, bits: 64 });
    expect(classifyBinary(elf(0x28, 1))).toEqual({ format: 'elf', machine: 0x28, bits: 32 });
  });
  it('recognises Mach-O (thin and universal) and PE, and nothing in text', () => {
    expect(classifyBinary(Uint8Array.from([0xcf, 0xfa, 0xed, 0xfe]))).toEqual({ format: 'mach-o' });
    expect(classifyBinary(Uint8Array.from([0xca, 0xfe, 0xba, 0xbe]))).toEqual({ format: 'mach-o' });
    expect(classifyBinary(Uint8Array.from([0x4d, 0x5a, 0x90, 0]))).toEqual({ format: 'pe' });
    expect(classifyBinary(Buffer.from('#!/bin/sh\n'))).toEqual({ format: 'none' });
  });
  it('flags everything but 64-bit ELF for the target as foreign', () => {
    const files = [
      { file: 'a', kind: classifyBinary(elf(0xb7)) },
      { file: 'b', kind: classifyBinary(elf(0x3e)) },
      { file: 'c', kind: classifyBinary(elf(0x28, 1)) },
      { file: 'd', kind: { format: 'mach-o' } },
    ] as Parameters<typeof foreignBinaries>[0];
    expect(foreignBinaries(files, 'arm64').map((f) => f.file)).toEqual(['b', 'c', 'd']);
    expect(foreignBinaries(files, 'x64').map((f) => f.file)).toEqual(['a', 'c', 'd']);
  });
});

describe('keepFile', () => {
  it('keeps one platform of the native packages and drops install scripts and sources', () => {
    expect(keepFile('onnxruntime-node', 'bin/napi-v6/linux/arm64/onnxruntime_binding.node', 'arm64')).toBe(true);
    expect(keepFile('onnxruntime-node', 'bin/napi-v6/linux/x64/onnxruntime_binding.node', 'arm64')).toBe(false);
    expect(keepFile('onnxruntime-node', 'bin/napi-v6/darwin/arm64/libonnxruntime.1.dylib', 'arm64')).toBe(false);
    expect(keepFile('onnxruntime-node', 'script/install.js', 'x64')).toBe(false);
    expect(keepFile('onnxruntime-node', 'dist/index.js', 'x64')).toBe(true);
    expect(keepFile('@serialport/bindings-cpp', 'prebuilds/linux-x64/@serialport+bindings-cpp.glibc.node', 'x64')).toBe(true);
    expect(keepFile('@serialport/bindings-cpp', 'prebuilds/linux-arm/@serialport+bindings-cpp.armv7.glibc.node', 'arm64')).toBe(false);
    expect(keepFile('@serialport/bindings-cpp', 'src/serialport.cpp', 'x64')).toBe(false);
    expect(keepFile('debug', 'src/index.d.ts', 'x64')).toBe(false);
    expect(keepFile('debug', 'LICENSE', 'x64')).toBe(true);
  });
});

describe('systemd notify', () => {
  it('pings at a third of WatchdogSec, only for our own pid and with a notify socket', () => {
    expect(watchdogIntervalMs({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '60000000', WATCHDOG_PID: '42' }, 42)).toBe(20_000);
    expect(watchdogIntervalMs({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '60000000' }, 42)).toBe(20_000);
    expect(watchdogIntervalMs({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '60000000', WATCHDOG_PID: '7' }, 42)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '60000000' }, 42)).toBeNull();
    expect(watchdogIntervalMs({ NOTIFY_SOCKET: 'x' }, 42)).toBeNull();
  });

  it('sends nothing outside systemd', () => {
    const sent: string[][] = [];
    const n = createNotifier({}, (a) => sent.push(a), 1);
    n.ready('x');
    n.stopping();
    const stop = n.startWatchdog(async () => true);
    stop();
    expect(sent).toEqual([]);
  });

  it('feeds the watchdog only while healthy', async () => {
    const sent: string[][] = [];
    const n = createNotifier({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '3000' }, (a) => sent.push(a), 1);
    n.ready('listening');
    expect(sent).toEqual([['--ready', '--status=listening']]);
    let checks = 0;
    // Healthy for two checks, then not; the fourth check ends the test.
    await new Promise<void>((resolve) => {
      const stop = n.startWatchdog(async () => {
        checks++;
        if (checks === 4) {
          stop();
          resolve();
        }
        return checks <= 2;
      });
    });
    await Promise.resolve();
    expect(sent.filter((a) => a[0] === 'WATCHDOG=1')).toHaveLength(2);
  });
});

describe('firstBoot', () => {
  it('creates an owner-only key and password once, and keeps them afterwards', async () => {
    const dir = tempDir('boot');
    const config = { dataDir: path.join(dir, 'data'), passwordFile: path.join(dir, 'creds/mqtt.password'), clientId: 'gw-alice', username: 'gw-alice', userId: 'alice', keyFile: undefined };
    const first = await firstBoot(config);
    expect(first).toMatchObject({ keyCreated: true, passwordCreated: true, keyFile: path.join(dir, 'data/keys/ledger-key.pem') });
    expect(fs.statSync(first.keyFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(first.passwordFile).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(first.passwordFile, 'utf8')).toMatch(/^[A-Za-z0-9_-]{32}\n$/);
    await expect(readPrivateKeyFile(first.keyFile)).resolves.toBeDefined();
    expect(first.enrol).toContain('--user gw-alice --role gateway --user-id alice --public-key');

    const key = fs.readFileSync(first.keyFile);
    const pw = fs.readFileSync(first.passwordFile);
    const again = await firstBoot(config);
    expect(again).toMatchObject({ keyCreated: false, passwordCreated: false });
    expect(fs.readFileSync(first.keyFile)).toEqual(key);
    expect(fs.readFileSync(first.passwordFile)).toEqual(pw);
  });

  it('refuses an existing key that others can read', async () => {
    const dir = tempDir('boot-loose');
    const config = { dataDir: path.join(dir, 'data'), passwordFile: path.join(dir, 'pw'), clientId: 'gw-a', username: 'gw-a', userId: 'a', keyFile: undefined };
    const { keyFile } = await firstBoot(config);
    fs.chmodSync(keyFile, 0o644);
    await expect(firstBoot(config)).rejects.toThrow(/has mode 644/);
  });
});

describe('the systemd unit', () => {
  const unit = fs.readFileSync(path.join(ASSETS, 'fedwear-gateway.service'), 'utf8');

  it('is hardened as issue 9 asks', () => {
    for (const line of ['User=fedwear', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/fedwear', 'NoNewPrivileges=true', 'PrivateTmp=true', 'Restart=on-failure', 'WatchdogSec=60s', 'Type=notify', 'StandardError=journal']) {
      expect(unit.split('\n'), line).toContain(line);
    }
  });

  it('passes systemd-analyze verify without a warning', (ctx) => {
    const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (probe.error) {
      console.warn('systemd-analyze not found: skipping (CI: apt-get install -y --no-install-recommends systemd)');
      ctx.skip();
    }
    const dir = tempDir('unit');
    fs.copyFileSync(path.join(ASSETS, 'fedwear-gateway.service'), path.join(dir, 'fedwear-gateway.service'));
    const r = spawnSync('systemd-analyze', ['verify', path.join(dir, 'fedwear-gateway.service')], { encoding: 'utf8' });
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('the udev rule names the device and limits it to the fedwear group', () => {
    const rule = fs.readFileSync(path.join(ASSETS, '99-fedwear-wearable.rules'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(rule).toHaveLength(1);
    expect(rule[0]).toMatch(/SUBSYSTEM=="tty"/);
    expect(rule[0]).toMatch(/SYMLINK\+="fedwear-wearable"/);
    expect(rule[0]).toMatch(/GROUP="fedwear", MODE="0660"/);
  });
});
