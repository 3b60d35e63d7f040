import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const BIN = path.join(REPO, 'bin/fedwear.mjs');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns `fedwear ARGS` as a real process (the same entry point users run). */
export function spawnCli(args: string[], opts: { cwd?: string } = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? REPO, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function waitForExit(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

export function runCli(args: string[], opts: { cwd?: string } = {}): Promise<CliResult> {
  return waitForExit(spawnCli(args, opts));
}

/** Resolves with the first stdout/stderr line (accumulated) that matches. */
export function waitForLine(child: ChildProcess, stream: 'stdout' | 'stderr', re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const s = child[stream]!;
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        if (re.test(line)) {
          s.off('data', onData);
          resolve(line);
          return;
        }
      }
    };
    s.on('data', onData);
    child.once('close', (code) => reject(new Error(`process exited (${code}) before printing a line matching ${re}`)));
  });
}
