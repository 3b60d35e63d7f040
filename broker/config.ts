/**
 * `fedwear broker --config FILE`: the schema and loader. Strict (unknown fields are errors) and every
 * error names its field. Relative paths are resolved against the config file's folder.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AggregatorConfigSchema, resolveAggregatorPaths } from './aggregator/config.ts';
import { expected, formatIssues } from './schema-errors.ts';

const host = z.string({ error: expected('expected a host name or IP address') }).min(1, { error: expected('expected a host name or IP address') });
const port = z
  .number({ error: expected('expected a port number 0..65535 (0 picks a free port)') })
  .int({ error: expected('expected a whole port number 0..65535') })
  .min(0, { error: expected('expected a port number 0..65535') })
  .max(65535, { error: expected('expected a port number 0..65535') });
const file = (what: string) => z.string({ error: expected(`expected the path of ${what}`) }).min(1, { error: expected(`expected the path of ${what}`) });
const positiveInt = (what: string) =>
  z.number({ error: expected(`expected ${what} as a whole number > 0`) }).int({ error: expected(`expected ${what} as a whole number > 0`) }).positive({ error: expected(`expected ${what} as a whole number > 0`) });

const TcpSchema = z.strictObject({ host: host.default('127.0.0.1'), port: port.default(1883) });

const TlsSchema = z.strictObject({
  host: host.default('127.0.0.1'),
  port: port.default(8883),
  keyFile: file('the private key (PEM)'),
  certFile: file('the certificate chain (PEM)'),
  caFile: file('CA certificates (PEM)').optional(),
});

const WebSocketSchema = z
  .strictObject({
    host: host.default('127.0.0.1'),
    port: port.default(8083),
    path: z.string({ error: expected('expected a URL path such as /mqtt') }).regex(/^\/[^\s?#]*$/, { error: expected('expected a URL path starting with "/", such as /mqtt') }).default('/mqtt'),
    keyFile: file('the private key (PEM) for wss').optional(),
    certFile: file('the certificate chain (PEM) for wss').optional(),
  })
  .superRefine((w, ctx) => {
    if ((w.keyFile === undefined) !== (w.certFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: [w.keyFile === undefined ? 'keyFile' : 'certFile'], message: 'wss needs both keyFile and certFile' });
    }
  });

const LimitsSchema = z.strictObject({
  maxPacketBytes: positiveInt('the largest MQTT packet in bytes (header included)').min(64, { error: expected('expected at least 64 bytes') }).default(256 * 1024),
  maxConnections: positiveInt('the connection cap').default(1024),
  connectionsPerIpPerSecond: z.number({ error: expected('expected a rate > 0') }).positive({ error: expected('expected a rate > 0') }).default(5),
  connectionBurstPerIp: positiveInt('the burst of connections one IP may open at once').default(20),
  connectTimeoutMs: positiveInt('milliseconds to wait for CONNECT').default(10_000),
});

const redisUrl = (what: string) =>
  z.string({ error: expected(`expected ${what} as a redis:// or rediss:// URL`) }).regex(/^rediss?:\/\//, { error: expected(`expected ${what} as a redis:// or rediss:// URL`) });

const PersistenceSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('memory') }),
    z.strictObject({ type: z.literal('level'), path: file('the LevelDB folder').default('broker-data') }),
    z.strictObject({
      type: z.literal('redis'),
      url: redisUrl('the Redis server'),
    }),
  ],
  { error: (iss) => `expected type: memory, level or redis, got ${JSON.stringify((iss.input as { type?: unknown } | undefined)?.type)}` },
);

/**
 * How aedes hands a publish to its subscribers. `memory` (the default, no section) is aedes's own
 * in-process emitter; `redis` (mqemitter-redis) shares every publish with the other brokers on the
 * same Redis, so brokers scale out: see broker/README.md, "Scale-out with Redis".
 */
const EmitterSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('memory') }),
    z.strictObject({ type: z.literal('redis'), url: redisUrl('the Redis server carrying publishes between brokers (default: persistence.url)').optional() }),
  ],
  { error: (iss) => `expected type: memory or redis, got ${JSON.stringify((iss.input as { type?: unknown } | undefined)?.type)}` },
);

const MetricsSchema = z.strictObject({ host: host.default('127.0.0.1'), port: port.default(9464) });

export const BrokerConfigSchema = z.strictObject({
  /** Required unless startBroker is given a CredentialStore. */
  credentialsFile: file('the credentials file (see `fedwear broker passwd`)').optional(),
  tcp: z.union([z.literal(false), TcpSchema], { error: expected('expected {host, port} or false') }).default({ host: '127.0.0.1', port: 1883 }),
  tls: TlsSchema.optional(),
  websocket: WebSocketSchema.optional(),
  limits: LimitsSchema.default(LimitsSchema.parse({})),
  persistence: PersistenceSchema.default({ type: 'level', path: 'broker-data' }),
  /** Absent: aedes's in-process emitter, as for a single broker. */
  emitter: EmitterSchema.optional(),
  metrics: MetricsSchema.optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: expected('expected one of fatal, error, warn, info, debug, trace, silent') }).default('info'),
  /** Runs the aggregator in-process (broker/aggregator/config.ts). */
  aggregator: AggregatorConfigSchema.optional(),
}).superRefine((c, ctx) => {
  if (c.tcp === false && !c.tls && !c.websocket) ctx.addIssue({ code: 'custom', path: ['tcp'], message: 'no listener left: enable tcp, tls or websocket' });
  // Brokers that share publishes must share sessions and retained messages too: with a local store each
  // broker would queue the others' subscribers' messages in its own files, where they never arrive.
  if (c.emitter?.type === 'redis' && c.persistence.type !== 'redis') {
    ctx.addIssue({ code: 'custom', path: ['emitter'], message: `a redis emitter needs persistence.type redis (the brokers must share sessions and retained messages), got ${c.persistence.type}` });
  }
  // The in-process aggregator reads updates through this broker's publish gates, which see only
  // publishes made on this broker: with several brokers it would silently miss the others' updates.
  if (c.emitter?.type === 'redis' && c.aggregator) {
    ctx.addIssue({ code: 'custom', path: ['aggregator'], message: 'the in-process aggregator sees only this broker\'s publishes; with a redis emitter run it as a client instead (fedwear aggregator --broker mqtt://...)' });
  }
});

export type BrokerConfig = z.infer<typeof BrokerConfigSchema>;
/** What a caller may write: every field with a default may be left out. */
export type BrokerConfigInput = z.input<typeof BrokerConfigSchema>;

/** Validates a parsed config; `baseDir` anchors relative paths (the config file's folder). */
export function parseBrokerConfig(raw: unknown, baseDir = process.cwd(), source = 'broker config'): BrokerConfig {
  const r = BrokerConfigSchema.safeParse(raw ?? {});
  if (!r.success) throw new Error(`invalid ${source}:\n${formatIssues(r.error.issues)}`);
  const c = r.data;
  const abs = (p: string): string => path.resolve(baseDir, p);
  return {
    ...c,
    credentialsFile: c.credentialsFile && abs(c.credentialsFile),
    tls: c.tls && { ...c.tls, keyFile: abs(c.tls.keyFile), certFile: abs(c.tls.certFile), caFile: c.tls.caFile && abs(c.tls.caFile) },
    websocket: c.websocket && {
      ...c.websocket,
      keyFile: c.websocket.keyFile && abs(c.websocket.keyFile),
      certFile: c.websocket.certFile && abs(c.websocket.certFile),
    },
    persistence: c.persistence.type === 'level' ? { ...c.persistence, path: abs(c.persistence.path) } : c.persistence,
    aggregator: c.aggregator && resolveAggregatorPaths(c.aggregator, baseDir),
  };
}

export function loadBrokerConfig(file: string): BrokerConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read broker config ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = path.extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`broker config ${file} does not parse: ${(err as Error).message}`);
  }
  return parseBrokerConfig(raw, path.dirname(path.resolve(file)), `broker config ${file}`);
}
