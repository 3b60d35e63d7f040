/**
 * The emitter aedes hands every publish to. Absent or `memory`: aedes's own in-process mqemitter, as
 * for one broker. `redis`: mqemitter-redis, so a publish made on any broker of a cluster reaches the
 * subscribers of all of them (together with aedes-persistence-redis, which shares sessions, queues
 * and retained messages; config.ts refuses the one without the other).
 */
import type { Logger } from 'pino';
import type { BrokerConfig } from './config.ts';
import { redisOptions } from './persistence.ts';

export interface OpenedEmitter {
  /** Passed to aedes as `mq`; undefined means aedes's own in-process emitter. */
  mq: unknown;
  /** True when publishes are shared with other brokers. */
  shared: boolean;
  /** aedes.close() closes the emitter too; this is for a start that failed before aedes owned it. */
  close(): Promise<void>;
}

/** How long a broker waits at start for the emitter's Redis before giving up with a clear error. */
const READY_TIMEOUT_MS = 10_000;

/** The parts of an mqemitter-redis instance used here that its type declarations leave out. */
interface RedisEmitterInternals {
  state: NodeJS.EventEmitter;
  pubConn: { ping(): Promise<string>; disconnect(): void };
  subConn: { ping(): Promise<string>; disconnect(): void };
  close(cb: () => void): void;
}

export async function openEmitter(cfg: BrokerConfig['emitter'], persistence: BrokerConfig['persistence'], log: Logger): Promise<OpenedEmitter> {
  if (!cfg || cfg.type === 'memory') return { mq: undefined, shared: false, close: async () => {} };
  const url = cfg.url ?? (persistence.type === 'redis' ? persistence.url : undefined);
  if (!url) throw new Error('emitter.url: expected a redis:// or rediss:// URL (there is no persistence.url to default to)');
  const { default: mqemitterRedis } = await import('mqemitter-redis');
  // concurrency and matchEmptyLevels as aedes sets them on its default emitter ([MQTT-4.7.1-3]: "a/#" matches "a").
  const mq = mqemitterRedis({ ...redisOptions(url, 'emitter.url'), concurrency: 100, matchEmptyLevels: true });
  const inner = mq as unknown as RedisEmitterInternals;
  let lastError: Error | undefined;
  // mqemitter-redis re-emits connection errors on `state`; an EventEmitter 'error' with no listener would
  // throw from ioredis's handler and end the process, while ioredis itself keeps reconnecting.
  inner.state.on('error', (err: Error) => {
    lastError = err;
    log.error({ err: err.message, redis: redactUrl(url) }, 'emitter: Redis connection error (reconnecting)');
  });
  const ready = Promise.all([inner.pubConn.ping(), inner.subConn.ping()]);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), READY_TIMEOUT_MS);
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (err) {
    inner.pubConn.disconnect();
    inner.subConn.disconnect();
    ready.catch(() => {});
    const why = lastError?.message ?? (err as Error).message;
    throw new Error(`emitter.url ${redactUrl(url)}: Redis did not answer within ${READY_TIMEOUT_MS / 1000} s (${why})`);
  } finally {
    clearTimeout(timer);
  }
  return { mq, shared: true, close: () => new Promise<void>((resolve) => inner.close(() => resolve())) };
}

/** The URL without its password, for logs and errors. */
export function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
