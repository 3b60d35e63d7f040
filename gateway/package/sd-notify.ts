/**
 * systemd readiness and watchdog without a native addon: Node cannot send on a unix datagram
 * socket, so each notification is one `systemd-notify` call (the unit sets NotifyAccess=all).
 * systemd-notify waits on a barrier (systemd >= 246) so the message is attributed before it exits.
 * The watchdog is fed only while the gateway's own /health answers 200: a wedged event loop or a
 * dead HTTP server stops the pings, and systemd restarts the service.
 */
import { spawn } from 'node:child_process';

export type NotifyEnv = Record<string, string | undefined>;

/** Milliseconds between pings (a third of WatchdogSec), or null when systemd is not watching us. */
export function watchdogIntervalMs(env: NotifyEnv, pid: number): number | null {
  if (!env.NOTIFY_SOCKET) return null;
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 1000 / 3));
}

export interface Notifier {
  ready(status?: string): void;
  stopping(): void;
  /** Starts pinging WATCHDOG=1 while `healthy()` resolves true; returns the stop function. */
  startWatchdog(healthy: () => Promise<boolean>): () => void;
}

export type SendNotify = (args: string[]) => void;

const spawnSystemdNotify: SendNotify = (args) => {
  const child = spawn('systemd-notify', args, { stdio: 'ignore' });
  child.on('error', () => {});
};

export function createNotifier(env: NotifyEnv = process.env, send: SendNotify = spawnSystemdNotify, pid = process.pid): Notifier {
  const active = Boolean(env.NOTIFY_SOCKET);
  return {
    ready(status) {
      if (active) send(['--ready', ...(status ? [`--status=${status}`] : [])]);
    },
    stopping() {
      if (active) send(['STOPPING=1']);
    },
    startWatchdog(healthy) {
      const every = watchdogIntervalMs(env, pid);
      if (every === null) return () => {};
      let busy = false;
      const timer = setInterval(() => {
        if (busy) return;
        busy = true;
        healthy()
          .then((ok) => {
            if (ok) send(['WATCHDOG=1']);
          })
          .catch(() => {})
          .finally(() => {
            busy = false;
          });
      }, every);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}

/** One GET of the gateway's /health; true only for a 200 within the timeout. */
export async function probeHealth(url: string, timeoutMs = 5000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}
