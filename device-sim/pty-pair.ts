import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface PtyPair {
  /** The device end (the simulator writes here). */
  a: string;
  /** The host end (the gateway reads here). */
  b: string;
  proc: ChildProcess;
  dir: string;
  stop(): Promise<void>;
}

/** Whether socat is installed (the demo falls back to in-process streams without it). */
export function socatAvailable(): boolean {
  return spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
}

/**
 * A simulated USB cable: starts `socat` with two linked pseudo-terminals and resolves once it reports its data transfer
 * loop (both links exist then; shared/notes/edge-stack.md §1). Raw mode, so every byte value passes.
 */
export async function startPtyPair(dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedwear-pty-'))): Promise<PtyPair> {
  const a = path.join(dir, 'ttyDEV');
  const b = path.join(dir, 'ttyHOST');
  const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    const onData = (d: Buffer): void => {
      log += d.toString();
      if (log.includes('starting data transfer loop')) {
        proc.stderr!.off('data', onData);
        proc.stderr!.resume();
        resolve();
      }
    };
    proc.stderr!.on('data', onData);
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`socat exited with ${code} before starting: ${log}`)));
  });
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  };
  return { a, b, proc, dir, stop };
}
