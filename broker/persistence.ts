/**
 * The aedes persistence named by the config: retained messages, QoS 1 session queues, subscriptions
 * and wills. `level` (LevelDB through classic-level's prebuilt binary) survives restarts on one host;
 * `redis` is for several brokers sharing state; `memory` is for tests and throwaway runs.
 */
import { mkdirSync } from 'node:fs';
import type { AedesPersistence } from 'aedes-persistence';
import type { BrokerConfig } from './config.ts';

export interface OpenedPersistence {
  /** Passed to aedes as `persistence`; undefined means aedes's own in-memory store. */
  persistence: AedesPersistence | undefined;
  close(): Promise<void>;
}

export async function openPersistence(cfg: BrokerConfig['persistence']): Promise<OpenedPersistence> {
  switch (cfg.type) {
    case 'memory':
      return { persistence: undefined, close: async () => {} };
    case 'level': {
      const [{ ClassicLevel }, { default: levelPersistence }] = await Promise.all([import('classic-level'), import('aedes-persistence-level')]);
      mkdirSync(cfg.path, { recursive: true });
      const db = new ClassicLevel(cfg.path);
      try {
        await db.open();
      } catch (err) {
        const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
        throw new Error(`persistence.path ${cfg.path}: cannot open the LevelDB store (${cause}); is another broker using it?`);
      }
      const persistence = levelPersistence(db);
      return { persistence, close: () => destroy(persistence) };
    }
    case 'redis': {
      const { default: redisPersistence } = await import('aedes-persistence-redis');
      const persistence = redisPersistence(redisOptions(cfg.url));
      return { persistence, close: () => destroy(persistence) };
    }
  }
}

// The callback form of destroy() waits for a 'ready' event that aedes 1.x (which awaits setup()) never
// triggers; called without a callback it returns the async implementation's promise.
async function destroy(p: AedesPersistence): Promise<void> {
  await (p.destroy as unknown as () => Promise<void>)();
}

/** redis[s]://[user:password@]host[:port][/db] → ioredis options; `field` names the config field in errors. */
export function redisOptions(url: string, field = 'persistence.url'): { host: string; port: number; username?: string; password?: string; db?: number; tls?: Record<string, unknown> } {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  if (db !== undefined && !Number.isInteger(db)) throw new Error(`${field}: database "${u.pathname.slice(1)}" is not a number`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db !== undefined ? { db } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}
