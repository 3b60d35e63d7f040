/**
 * The x64 package, unpacked in an empty folder outside the repository, runs the gateway against a
 * local broker: nothing it needs is missing from the tarball.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, saveCredentialsFile, startBroker, topics, type BrokerHandle, type CredentialsFile } from '../../broker/index.ts';
import { ELF_MACHINE, findNativeFiles, listFiles } from '../../gateway/package/index.ts';
import { encodeFrame } from '../../firmware-bindings/index.ts';
import { SeenUpdates, validateUpdate } from '../../federation/index.ts';
import { readPublicKeyFile } from '../../privacy/index.ts';
// The gateway-service suite's scripted aggregator and simulated wearable, reused as they are.
import { Aggregator, announcement, baseModel, bodyShapes, passwordOf, simulatedRecords } from '../gateway-service/helpers.ts';
import { buildAndUnpack, removeTempDirs, tempDir, type Unpacked } from './helpers.ts';

const VERSION = '0.1.0-test.1';
const FAST_SCRYPT = { ln: 10, r: 8, p: 1 };
let pkg: Unpacked;
const children: ChildProcess[] = [];

beforeAll(async () => {
  pkg = await buildAndUnpack('x64', VERSION);
}, 180_000);

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  removeTempDirs();
});

/** The package's node, with no trace of the repository: another cwd, no tsx loader in NODE_OPTIONS. */
function gatewayCli(args: string[], cwd: string, extraEnv: Record<string, string> = {}): ChildProcess {
  const env = { ...process.env, ...extraEnv };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [path.join(pkg.dir, 'bin/fedwear-gateway.mjs'), ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

function runToEnd(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, [path.join(pkg.dir, 'bin/fedwear-gateway.mjs'), ...args], { cwd, env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writeConfig(dir: string, brokerUrl: string): string {
  const file = path.join(dir, 'gateway.yaml');
  // No model.baseDir: the default must find the package's own models/base.
  fs.writeFileSync(
    file,
    [
      'userId: alice',
      'clientId: gw-alice',
      'passwordFile: ./credentials/mqtt.password',
      `broker: { url: "${brokerUrl}", reconnect: { minMs: 50, maxMs: 400 }, settleMs: 0 }`,
      'dataDir: ./data',
      'device: { source: file, path: ./frames.bin }',
      'training: { minExamples: 20 }',
      'profile: { sex: male, ageY: 22, weightKg: 73.4, heightCm: 173.5, restingHrBpm: 58 }',
      'budget: { epsilonMax: 8, delta: 1.0e-5, accountant: rdp }',
      'http: { host: 127.0.0.1, port: 0 }',
      'logLevel: warn',
      '',
    ].join('\n'),
  );
  return file;
}

describe('the x64 package', () => {
  it('holds the bundle, the runtime dependencies, the model, the templates and a version file', () => {
    const files = listFiles(pkg.dir);
    for (const f of [
      'bin/fedwear-gateway.mjs',
      'bin/fedwear-gateway',
      'lib/gateway/fedwear-gateway.mjs',
      'models/base/model.onnx',
      'models/base/manifest.json',
      'share/gateway.yaml',
      'share/gateway.example.yaml',
      'share/systemd/fedwear-gateway.service',
      'share/udev/99-fedwear-wearable.rules',
      'install.sh',
      'uninstall.sh',
      'README.md',
      'VERSION',
      'SHA256SUMS',
      'node_modules/serialport/package.json',
      'node_modules/onnxruntime-node/package.json',
    ]) {
      expect(files, f).toContain(f);
    }
    expect(fs.readFileSync(path.join(pkg.dir, 'VERSION'), 'utf8').trim()).toBe(VERSION);
    // The licences of what the bundle contains travel with it.
    const licences = fs.readFileSync(path.join(pkg.dir, 'lib/gateway/THIRD-PARTY-LICENSES.txt'), 'utf8');
    for (const name of ['zod@', 'mqtt@', 'pino@', 'commander@', 'yaml@', 'prom-client@']) expect(licences, name).toContain(`\n${name}`);
    // Bundled, not shipped: the simulators, the broker's persistence, BLE and Firmata stacks, tsx.
    for (const absent of ['tsx', 'device-sim', 'johnny-five', 'firmata-io', '@abandonware', 'classic-level', 'aedes', 'zod', 'adm-zip', 'node-addon-api']) {
      expect(files.some((f) => f.startsWith(`node_modules/${absent}/`) || f.startsWith(`${absent}/`)), absent).toBe(false);
    }
    console.log(`x64 package: ${(pkg.result.tarballBytes / 1e6).toFixed(1)} MB tar.gz, ${(pkg.result.unpackedBytes / 1e6).toFixed(1)} MB unpacked, bundle ${(pkg.result.bundleBytes / 1e6).toFixed(2)} MB, ${pkg.result.files} files`);
    expect(pkg.result.tarballBytes).toBeLessThan(40e6);
  });

  it('lists every file in SHA256SUMS with its digest', () => {
    const lines = fs.readFileSync(path.join(pkg.dir, 'SHA256SUMS'), 'utf8').trim().split('\n');
    const listed = new Map(lines.map((l) => [l.slice(66), l.slice(0, 64)]));
    const files = listFiles(pkg.dir).filter((f) => f !== 'SHA256SUMS');
    expect([...listed.keys()].sort()).toEqual(files);
    for (const f of files) expect(listed.get(f), f).toBe(createHash('sha256').update(fs.readFileSync(path.join(pkg.dir, f))).digest('hex'));
  });

  it('carries only linux x86-64 native binaries: serialport and onnxruntime', () => {
    const natives = findNativeFiles(pkg.dir);
    expect(natives.map((n) => n.file)).toEqual(
      expect.arrayContaining([
        'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
        'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
        expect.stringMatching(/^node_modules\/@serialport\/bindings-cpp\/prebuilds\/linux-x64\/.*glibc\.node$/),
      ]),
    );
    for (const n of natives) expect(n.kind, n.file).toEqual({ format: 'elf', machine: ELF_MACHINE.x64, bits: 64 });
    expect(listFiles(pkg.dir).filter((f) => /(prebuilds|napi-v\d+)\/.*(darwin|win32|arm|android)/.test(f))).toEqual([]);
  });

  it('reports its version', () => {
    const r = runToEnd(['--version'], tempDir('cwd'));
    expect(r.stdout.trim()).toBe(VERSION);
    // The shell launcher, through a symlink as install.sh puts it in /usr/local/bin.
    const links = tempDir('links');
    fs.symlinkSync(path.join(pkg.dir, 'bin/fedwear-gateway'), path.join(links, 'fedwear-gateway'));
    const viaLink = spawnSync(path.join(links, 'fedwear-gateway'), ['--version'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(viaLink.stdout.trim()).toBe(VERSION);
  });

  describe('against a local broker', () => {
    let dir: string;
    let broker: BrokerHandle;
    let config: string;
    let aggregatorUser: CredentialsFile['users'][number];

    beforeAll(async () => {
      dir = tempDir('run');
      // The gateway is enrolled below, from what its first boot makes; until then, another identity.
      aggregatorUser = { username: 'aggregator', role: 'aggregator', passwordHash: await hashPassword(passwordOf('aggregator'), FAST_SCRYPT) };
      saveCredentialsFile(path.join(dir, 'credentials.yaml'), { version: 1, users: [aggregatorUser] } as CredentialsFile);
      // One hour of a simulated wearable, as frames on the device file: ~50 labelled windows.
      fs.writeFileSync(path.join(dir, 'frames.bin'), Buffer.concat(simulatedRecords().map((r) => Buffer.from(encodeFrame(r)))));
      broker = await startBroker(
        { credentialsFile: path.join(dir, 'credentials.yaml'), tcp: { host: '127.0.0.1', port: 0 }, persistence: { type: 'memory' } },
        { logger: pino({ level: 'silent' }) },
      );
    }, 30_000);

    afterAll(async () => {
      await broker?.close();
    });

    it('first boot makes an owner-only key and password, once; the gateway tells systemd it is ready, feeds the watchdog, answers a round, and stops on SIGTERM', async () => {
      config = writeConfig(dir, `mqtt://127.0.0.1:${broker.tcpPort}`);
      const boot = runToEnd(['first-boot', '--config', config], dir);
      expect(boot.stderr).toBe('');
      const first = JSON.parse(boot.stdout) as { keyFile: string; publicKeyFile: string; passwordFile: string; keyCreated: boolean; passwordCreated: boolean };
      expect(first).toMatchObject({ keyCreated: true, passwordCreated: true });
      expect(fs.statSync(first.keyFile).mode & 0o777).toBe(0o600);
      expect(fs.statSync(first.passwordFile).mode & 0o777).toBe(0o600);
      const again = JSON.parse(runToEnd(['first-boot', '--config', config], dir).stdout) as typeof first;
      expect(again).toMatchObject({ keyCreated: false, passwordCreated: false });

      // Enrol the gateway with what first boot made, as the broker's operator would.
      const password = fs.readFileSync(first.passwordFile, 'utf8').trim();
      const creds = {
        version: 1,
        users: [aggregatorUser, { username: 'gw-alice', role: 'gateway', userId: 'alice', passwordHash: await hashPassword(password, FAST_SCRYPT), publicKey: fs.readFileSync(first.publicKeyFile, 'utf8') }],
      } as CredentialsFile;
      saveCredentialsFile(path.join(dir, 'credentials.yaml'), creds);
      broker.reloadCredentials();

      const subscribed = new Promise<void>((resolve) => {
        broker.aedes.on('subscribe', (_subs, client) => {
          if (client?.id === 'gw-alice') resolve();
        });
      });
      // systemd's side: a fake systemd-notify on PATH writes its arguments to a FIFO we read.
      const fakeBin = path.join(dir, 'fake-bin');
      fs.mkdirSync(fakeBin);
      const fifo = path.join(dir, 'notify.fifo');
      execFileSync('mkfifo', [fifo]);
      fs.writeFileSync(path.join(fakeBin, 'systemd-notify'), `#!/bin/sh\necho "$*" > ${fifo}\n`, { mode: 0o755 });
      // r+ keeps a writer open, so the reader never sees end-of-file between notifications.
      const notifyStream = fs.createReadStream('', { fd: fs.openSync(fifo, 'r+') });
      const notifications = createInterface({ input: notifyStream })[Symbol.asyncIterator]();
      const child = gatewayCli(['run', '--config', config], dir, {
        PATH: `${fakeBin}:${process.env.PATH ?? ''}`,
        NOTIFY_SOCKET: path.join(dir, 'no-such-socket'),
        WATCHDOG_USEC: '300000',
      });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const firstLine = await Promise.race([lines.next(), exited.then((code) => ({ value: `exited ${code}: ${stderr}`, done: true }))]);
      const listening = JSON.parse(String(firstLine.value)) as { event: string; http: number; clientId: string };
      expect(listening).toMatchObject({ event: 'listening', clientId: 'gw-alice' });

      await subscribed;
      type Health = { status: string; mqtt: { connected: boolean }; model: { live: string | null }; privacy: { epsilonMax: number } };
      // The broker sees the SUBSCRIBE before the gateway reads its SUBACK and calls itself online.
      let health: Health | undefined;
      for (let i = 0; i < 200 && !health?.mqtt.connected; i++) {
        const res = await fetch(`http://127.0.0.1:${listening.http}/health`);
        expect(res.status).toBe(200);
        health = (await res.json()) as Health;
      }
      if (!health) throw new Error('no /health answer');
      expect(health.status).toBe('ok');
      expect(health.mqtt.connected).toBe(true);
      // The base model inside the package, served by the packaged onnxruntime-node.
      expect(health.model.live).toEqual(expect.any(String));
      expect(health.privacy.epsilonMax).toBe(8);

      // Ready once, then pings every 100 ms (a third of WATCHDOG_USEC) while /health answers. Each
      // notification is its own process, so arrival order is not asserted.
      const seen: string[] = [];
      while (seen.filter((l) => l === 'WATCHDOG=1').length < 2 || !seen.some((l) => l.startsWith('--ready'))) seen.push(String((await notifications.next()).value));
      expect(seen.filter((l) => l !== 'WATCHDOG=1')).toEqual([`--ready --status=listening on 127.0.0.1:${listening.http}`]);

      // A round: the scripted aggregator announces one on the base model; the packaged gateway
      // trains (DP-SGD, the ledger entry fsynced first) and sends a signed update that validates.
      const base = await baseModel();
      const agg = await Aggregator.connect(`mqtt://127.0.0.1:${broker.tcpPort}`);
      try {
        const updates = agg.waitFor(topics.updates('gw-alice'), 1);
        await agg.announce(announcement({ roundId: 1, modelVersion: base.manifest.modelVersion, modelSha256: base.manifest.onnx.sha256 }));
        const [update] = await updates;
        const publicKey = await readPublicKeyFile(first.publicKeyFile);
        const verdict = validateUpdate(new Uint8Array(update.payload), {
          modelVersion: base.manifest.modelVersion,
          shapes: bodyShapes(base.params.model.arch),
          openRound: 1,
          normBound: 10,
          maxBytes: 65536,
          publicKeyOf: (id) => (id === 'gw-alice' ? publicKey : undefined),
          seen: new SeenUpdates(),
          senderClientId: 'gw-alice',
          allowedEncodings: ['int8-dense', 'float32'],
        });
        expect(verdict.ok, verdict.ok ? '' : `${verdict.reason}: ${verdict.detail}`).toBe(true);
        const [ledgerLine] = await agg.waitFor(topics.privacyLedger('alice'), 1);
        expect(JSON.parse(ledgerLine.payload.toString('utf8'))).toMatchObject({ round: 1 });
      } finally {
        await agg.end();
      }

      child.kill('SIGTERM');
      const stopped = JSON.parse(String((await lines.next()).value)) as { event: string; signal: string };
      expect(stopped).toMatchObject({ event: 'stopped', signal: 'SIGTERM' });
      expect(await exited).toBe(0);
      const rest: string[] = [];
      for (let n = await notifications.next(); n.value !== 'STOPPING=1'; n = await notifications.next()) rest.push(String(n.value));
      expect(rest.filter((l) => l !== 'WATCHDOG=1')).toEqual([]);
      notifyStream.destroy();
    }, 120_000);

    it('exports the records it ingested from the device file', () => {
      const r = runToEnd(['store', 'export', '--store', path.join(dir, 'data/records')], dir);
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(simulatedRecords().length);
      expect(JSON.parse(lines[0])).toMatchObject({ deviceId: simulatedRecords()[0].deviceId });
    }, 60_000);

    it('refuses to start with a world-readable key', async () => {
      // A gateway left running by a failed test above would hold the data directory's lock.
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : undefined)));
      const keyFile = path.join(dir, 'data/keys/ledger-key.pem');
      fs.chmodSync(keyFile, 0o644);
      try {
        const r = runToEnd(['run', '--config', config], dir);
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/ledger-key\.pem has mode 644.*refusing to start/);
        expect(r.stdout).not.toMatch(/listening/);
      } finally {
        fs.chmodSync(keyFile, 0o600);
      }
    }, 60_000);
  });
});
