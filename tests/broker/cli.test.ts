/** `fedwear broker passwd` and `fedwear broker --config` as real processes. */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CredentialStore, loadBrokerConfig, loadCredentialsFile, startBroker, topics } from '../../broker/index.ts';
import { BIN, REPO, runCli, spawnCli, waitForExit, waitForLine, type CliResult } from '../helpers/run-cli.ts';
import { connectAs, nextMessage, silentLogger, subscribeCodes, tempDir, writeCredentials } from './harness.ts';

/** Runs `fedwear ARGS` with `input` on stdin. */
function runWithStdin(args: string[], input: string): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  const done = waitForExit(child);
  child.stdin.end(input);
  return done;
}

describe('fedwear broker passwd', { timeout: 30_000 }, () => {
  it('hashes a password from stdin; the file never holds it', async () => {
    const file = path.join(tempDir('passwd'), 'creds.yaml');
    const password = 'correct horse battery staple';
    const r = await runWithStdin(['broker', 'passwd', '--file', file, '--user', 'gw-alice', '--role', 'gateway', '--user-id', 'alice'], password + '\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('added gw-alice (gateway)');
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain(password);
    expect(text).toMatch(/passwordHash: \$scrypt\$ln=15,r=8,p=1\$/);
    const store = CredentialStore.fromFile(file);
    expect(await store.verify('gw-alice', Buffer.from(password))).toEqual({ role: 'gateway', username: 'gw-alice', userId: 'alice' });
  });

  it('generates a password when stdin is empty, prints it once, and a second run replaces it', async () => {
    const dir = tempDir('passwd-gen');
    const file = path.join(dir, 'creds.json');
    const keyFile = path.join(dir, 'gw.pub.pem');
    fs.writeFileSync(keyFile, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    const first = await runCli(['broker', 'passwd', '--file', file, '--user', 'gw-bob', '--role', 'gateway', '--user-id', 'bob', '--public-key', keyFile]);
    expect(first.code).toBe(0);
    const generated = first.stdout.trim();
    expect(generated).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(fs.readFileSync(file, 'utf8')).not.toContain(generated);
    expect(loadCredentialsFile(file).users[0].publicKey).toBe(fs.readFileSync(keyFile, 'utf8'));
    expect(await CredentialStore.fromFile(file).verify('gw-bob', Buffer.from(generated))).not.toBeNull();

    const second = await runCli(['broker', 'passwd', '--file', file, '--user', 'gw-bob', '--role', 'gateway', '--user-id', 'bob']);
    expect(second.stderr).toContain('updated gw-bob');
    const store = CredentialStore.fromFile(file);
    expect(await store.verify('gw-bob', Buffer.from(generated))).toBeNull();
    expect(await store.verify('gw-bob', Buffer.from(second.stdout.trim()))).not.toBeNull();
    expect(store.entry('gw-bob')?.publicKey).toBe(fs.readFileSync(keyFile, 'utf8'));
  });

  it('names the flag that is wrong and leaves no file behind', async () => {
    const file = path.join(tempDir('passwd-bad'), 'creds.yaml');
    const noUserId = await runCli(['broker', 'passwd', '--file', file, '--user', 'gw-x', '--role', 'gateway']);
    expect(noUserId.code).toBe(1);
    expect(noUserId.stderr).toMatch(/--user-id: a gateway needs the userId/);
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe('fedwear broker --config', { timeout: 30_000 }, () => {
  it('starts from a YAML config, serves clients, and exits cleanly on SIGTERM', async () => {
    const dir = tempDir('broker-cli');
    await writeCredentials(dir);
    const config = path.join(dir, 'broker.yaml');
    fs.writeFileSync(config, ['credentialsFile: credentials.yaml', 'tcp: { host: 127.0.0.1, port: 0 }', 'persistence: { type: level, path: data }', 'metrics: { port: 0 }', 'logLevel: warn', ''].join('\n'));
    const child = spawnCli(['broker', '--config', config]);
    const exit = waitForExit(child);
    const ready = JSON.parse(await waitForLine(child, 'stdout', /"event":"listening"/)) as { tcp: number; metrics: number };
    expect(fs.existsSync(path.join(dir, 'data'))).toBe(true);

    const url = `mqtt://127.0.0.1:${ready.tcp}`;
    const agg = await connectAs(url, 'aggregator');
    const alice = await connectAs(url, 'gw-alice');
    expect(await subscribeCodes(alice, topics.roundsCurrent())).toEqual([1]);
    const got = nextMessage(alice, topics.roundsCurrent());
    await agg.publishAsync(topics.roundsCurrent(), 'round-1', { qos: 1, retain: true });
    expect((await got).payload.toString()).toBe('round-1');
    await Promise.all([agg.endAsync(true), alice.endAsync(true)]);

    const metrics = await fetch(`http://127.0.0.1:${ready.metrics}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/fedwear_broker_connections_total\{transport="tcp"\} 2/);

    child.kill('SIGTERM');
    const r = await exit;
    expect(r.code).toBe(0);
  });

  it('reports every bad config field by name and exits 1', async () => {
    const dir = tempDir('broker-cli-bad');
    const config = path.join(dir, 'broker.yaml');
    fs.writeFileSync(config, 'tcp:\n  port: 70000\npersistence:\n  type: sqlite\nlimits:\n  maxPacketBytes: 10\n  bogus: 1\nlogLevel: loud\n');
    const r = await runCli(['broker', '--config', config]);
    expect(r.code).toBe(1);
    for (const line of [
      'tcp.port: expected a port number 0..65535, got 70000',
      'limits.maxPacketBytes: expected at least 64 bytes, got 10',
      'limits: Unrecognized key: "bogus"',
      'persistence.type: expected type: memory, level or redis, got "sqlite"',
      'logLevel: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ]) {
      expect(r.stderr).toContain(line);
    }
  });

  it('names a missing config file and a missing credentialsFile', async () => {
    const dir = tempDir('broker-cfg');
    expect(() => loadBrokerConfig(path.join(dir, 'absent.yaml'))).toThrow(/cannot read broker config .*absent\.yaml/);
    fs.writeFileSync(path.join(dir, 'b.yaml'), 'tcp: { port: 0 }\npersistence: { type: memory }\n');
    await expect(startBroker(loadBrokerConfig(path.join(dir, 'b.yaml')), { logger: silentLogger })).rejects.toThrow(/credentialsFile: expected the path of the credentials file/);
    fs.writeFileSync(path.join(dir, 'c.yaml'), 'credentialsFile: nope.yaml\ntls: { port: 0, keyFile: k.pem, certFile: c.pem }\n');
    await expect(startBroker(loadBrokerConfig(path.join(dir, 'c.yaml')), { logger: silentLogger })).rejects.toThrow(/cannot read credentials file .*nope\.yaml/);
    await writeCredentials(dir, 'nope.yaml');
    await expect(startBroker(loadBrokerConfig(path.join(dir, 'c.yaml')), { logger: silentLogger })).rejects.toThrow(/tls\.keyFile: cannot read .*k\.pem \(ENOENT\)/);
  });
});
