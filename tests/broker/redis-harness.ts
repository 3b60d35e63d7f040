/**
 * A real redis-server (Debian's, installed by .ci/run) on a free loopback port with its own temp
 * folder, for the scale-out tests and bench. No snapshots, no AOF: state lives as long as the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { spawnCli, waitForExit, waitForLine } from '../helpers/run-cli.ts';
import { freePort } from '../helpers/servers.ts';

const REDIS_SERVER = fs.existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server';

export interface RedisServer {
  port: number;
  url: string;
  /** SIGTERM, wait for the exit, remove the temp folder. */
  stop(): Promise<void>;
}


export async function startRedis(): Promise<RedisServer> {
  // The port can be taken between freePort() and redis binding it; try a few.
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-redis-'));
    const port = await freePort();
    const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await ready(child);
      return { port, url: `redis://127.0.0.1:${port}`, stop: () => stop(child, dir) };
    } catch (err) {
      lastError = err as Error;
      await stop(child, dir);
    }
  }
  throw lastError!;
}

/** Resolves on "Ready to accept connections"; rejects with the server's output if it exits first. */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        child.stdout!.off('data', onData);
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`));
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
    child.once('error', reject);
  });
}

async function stop(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

export interface BrokerProcess {
  child: ChildProcess;
  port: number;
  url: string;
  exit: ReturnType<typeof waitForExit>;
}

/**
 * `fedwear broker --config` with Redis persistence and the Redis emitter, as a child process; the
 * config is written to `<dir>/<name>.yaml` and names `<dir>/credentials.yaml`.
 */
export async function spawnRedisBroker(dir: string, name: string, redisUrl: string, logLevel = 'warn'): Promise<BrokerProcess> {
  const config = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(
    config,
    stringify({
      credentialsFile: 'credentials.yaml',
      tcp: { host: '127.0.0.1', port: 0 },
      persistence: { type: 'redis', url: redisUrl },
      emitter: { type: 'redis' },
      limits: { connectionsPerIpPerSecond: 10_000, connectionBurstPerIp: 10_000 },
      logLevel,
    }),
  );
  const child = spawnCli(['broker', '--config', config]);
  const exit = waitForExit(child);
  const line = await waitForLine(child, 'stdout', /"event":"listening"/);
  const port = (JSON.parse(line) as { tcp: number }).tcp;
  return { child, port, url: `mqtt://127.0.0.1:${port}`, exit };
}
