/**
 * `fedwear gateway run --config FILE`: the service's configuration, validated with zod. Strict
 * (unknown fields are errors, so a typo never silently falls back to a default) and every error
 * names the field and what it expects. Relative paths are resolved against the config file's folder.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** Same rule as the broker's usernames and user ids: one safe topic level. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const CLIENT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(:[A-Za-z0-9_.-]{1,64})?$/;
const URL_RE = /^(mqtts?):\/\/([^\s/:@]+|\[[0-9a-fA-F:.]+\])(:\d{1,5})?\/?$/;

/** Where the base model lives in this checkout; a gateway starts from it when nothing newer is on disk. */
export const DEFAULT_BASE_MODEL_DIR = path.resolve(import.meta.dirname, '../../models/base');

/** A zod message that also shows the offending value. */
function expected(message: string): (issue: { input?: unknown }) => string {
  return (issue) => (issue.input === undefined ? message : `${message}, got ${JSON.stringify(issue.input)}`);
}

const num = (what: string) => z.number({ error: expected(`expected ${what}`) }).refine(Number.isFinite, { error: expected(`expected ${what}`) });
const int = (what: string, min: number, max: number) =>
  z
    .number({ error: expected(`expected ${what}: a whole number in [${min}, ${max}]`) })
    .int({ error: expected(`expected ${what}: a whole number in [${min}, ${max}]`) })
    .min(min, { error: expected(`expected ${what}: a whole number in [${min}, ${max}]`) })
    .max(max, { error: expected(`expected ${what}: a whole number in [${min}, ${max}]`) });
const range = (what: string, lo: number, hi: number) =>
  num(`${what} in [${lo}, ${hi}]`).refine((x) => x >= lo && x <= hi, { error: expected(`expected ${what} in [${lo}, ${hi}]`) });
const file = (what: string) => z.string({ error: expected(`expected the path of ${what}`) }).min(1, { error: expected(`expected the path of ${what}`) });
const host = z.string({ error: expected('expected a host name or IP address') }).min(1, { error: expected('expected a host name or IP address') });
const port = int('a port number (0 picks a free port)', 0, 65535);
const bool = (what: string) => z.boolean({ error: expected(`expected ${what}: true or false`) });

const ENCODINGS = ['int8-dense', 'int8-topk', 'float32'] as const;

const BrokerSchema = z.strictObject({
  url: z
    .string({ error: expected('expected an mqtt:// or mqtts:// URL such as mqtt://127.0.0.1:1883') })
    .regex(URL_RE, { error: expected('expected an mqtt:// or mqtts:// URL such as mqtt://127.0.0.1:1883 (no path)') }),
  /** CA certificates (PEM) that sign the broker's certificate; mqtts:// only. */
  caFile: file('CA certificates (PEM) for mqtts://').optional(),
  /** Checked against the certificate instead of the URL's host (mqtts:// only). */
  servername: host.optional(),
  keepaliveS: int('the MQTT keepalive in seconds', 5, 3600).default(30),
  connectTimeoutMs: int('milliseconds to wait for CONNACK', 100, 600_000).default(10_000),
  reconnect: z
    .strictObject({
      minMs: int('the first reconnect delay in ms', 10, 3_600_000).default(500),
      maxMs: int('the longest reconnect delay in ms', 10, 3_600_000).default(30_000),
    })
    .default({ minMs: 500, maxMs: 30_000 }),
  /**
   * A connection the broker drops within this long after a PUBLISH we sent, with no PUBACK, and
   * that reconnects at the first attempt, means the broker refused that publish (gateway/README.md,
   * "Outbox"). The entry is then set aside, never re-sent.
   */
  refusalWindowMs: int('milliseconds after a PUBLISH in which a dropped connection counts as a refusal', 1, 60_000).default(1000),
  /** After (re)subscribing, wait this long for retained announcements before sending updates. */
  settleMs: int('milliseconds to wait for retained messages after subscribing', 0, 60_000).default(250),
});

const DeviceSchema = z.discriminatedUnion(
  'source',
  [
    z.strictObject({ source: z.literal('serial'), path: file('the serial device'), baudRate: int('the baud rate', 1, 10_000_000).default(115200) }),
    z.strictObject({ source: z.literal('file'), path: file('a file of protocol frames') }),
    z.strictObject({ source: z.literal('none') }),
  ],
  { error: (iss) => `expected source: serial, file or none, got ${JSON.stringify((iss.input as { source?: unknown } | undefined)?.source)}` },
);

/** Bounds are models/features.ts resolveProfile's, so a config that loads never fails there. */
const ProfileSchema = z.strictObject({
  sex: z.enum(['female', 'male'], { error: expected('expected "female" or "male"') }),
  ageY: range('age in years', 5, 120),
  weightKg: range('weight in kg', 20, 400),
  heightCm: range('height in cm', 100, 250),
  restingHrBpm: range('resting heart rate in bpm', 25, 130).optional(),
  hrMaxBpm: range('maximal heart rate in bpm', 80, 250).optional(),
});

const BudgetSchema = z.strictObject({
  epsilonMax: num('epsilonMax: a finite number > 0').refine((x) => x > 0, { error: expected('expected epsilonMax: a finite number > 0') }),
  delta: num('delta in (0, 1)').refine((x) => x > 0 && x < 1, { error: expected('expected delta in (0, 1)') }),
  accountant: z.enum(['rdp', 'prv'], { error: expected('expected "rdp" or "prv"') }).default('rdp'),
});

const UpdatesSchema = z
  .strictObject({
    /** In order of preference; the first one the round allows (and whose envelope fits) is used. */
    encodings: z
      .array(z.enum(ENCODINGS, { error: expected(`expected one of ${ENCODINGS.join(', ')}`) }), { error: expected(`expected a list of ${ENCODINGS.join(', ')}`) })
      .min(1, { error: 'expected at least one encoding' })
      .refine((a) => new Set(a).size === a.length, { error: 'expected each encoding at most once' })
      .default(['int8-dense', 'float32']),
    topK: z
      .strictObject({
        density: num('a density in (0, 1]').refine((d) => d > 0 && d <= 1, { error: expected('expected a density in (0, 1]') }).default(0.1),
        scope: z.enum(['global', 'per-tensor'], { error: expected('expected "global" or "per-tensor"') }).default('global'),
      })
      .default({ density: 0.1, scope: 'global' }),
  })
  .default({ encodings: ['int8-dense', 'float32'], topK: { density: 0.1, scope: 'global' } });

const TrainingSchema = z
  .strictObject({
    minExamples: int('the fewest labelled examples a round trains on', 1, 1_000_000).default(32),
    /** The most recent labelled windows a round uses (memory bound on the board). */
    maxExamples: int('the most labelled examples kept for training', 1, 10_000_000).default(20_000),
    /** Local MAE before/after (three extra forward passes); logged, never published. */
    diagnostics: bool('diagnostics').default(false),
    /**
     * Decay of the moving average of DP-SGD iterates a round returns (0: the last iterate).
     * Post-processing, so free in privacy; measured on the demo: personalized MAE 1-2 points lower.
     */
    emaDecay: num('the iterate-average decay in [0, 1)').refine((x) => x >= 0 && x < 1, { error: expected('expected the iterate-average decay in [0, 1)') }).default(0.9),
  })
  .default({ minExamples: 32, maxExamples: 20_000, diagnostics: false, emaDecay: 0.9 });

const WindowingSchema = z
  .strictObject({
    windowS: int('the grid window length in s', 1, 3600).default(60),
    maxLabelS: int('the longest label in s', 1, 86_400).default(300),
    minWindowS: int('the shortest grid fragment kept in s', 1, 3600).default(15),
  })
  .default({ windowS: 60, maxLabelS: 300, minWindowS: 15 });

const HttpSchema = z.strictObject({ host: host.default('127.0.0.1'), port: port.default(8080) }).default({ host: '127.0.0.1', port: 8080 });

export const GatewayConfigSchema = z
  .strictObject({
    userId: z.string({ error: expected('expected the user id (1-64 of [A-Za-z0-9_.-])') }).regex(ID_RE, { error: expected('expected the user id (1-64 of [A-Za-z0-9_.-], starting with a letter or digit)') }),
    /** The MQTT client id: the broker username, or username:session. */
    clientId: z
      .string({ error: expected('expected the MQTT client id (the broker username, or username:session)') })
      .regex(CLIENT_ID_RE, { error: expected('expected the MQTT client id: the broker username, or username:session') }),
    /** Defaults to the username part of clientId (the broker requires them to match). */
    username: z.string({ error: expected('expected the broker username') }).regex(ID_RE, { error: expected('expected the broker username (1-64 of [A-Za-z0-9_.-])') }).optional(),
    passwordFile: file('the file holding the MQTT password'),
    broker: BrokerSchema,
    dataDir: file('the data directory (created if missing)'),
    /** Ed25519 private key (PEM) signing ledger entries and updates; default <dataDir>/keys/ledger-key.pem, created on first start. */
    keyFile: file('the Ed25519 private key (PEM)').optional(),
    device: DeviceSchema.default({ source: 'none' }),
    profile: ProfileSchema,
    budget: BudgetSchema,
    updates: UpdatesSchema,
    training: TrainingSchema,
    windowing: WindowingSchema,
    model: z.strictObject({ baseDir: file('the base model directory (models/base)').default(DEFAULT_BASE_MODEL_DIR) }).default({ baseDir: DEFAULT_BASE_MODEL_DIR }),
    http: HttpSchema,
    /** A separate Prometheus port; without it /metrics is served on the HTTP API's port. */
    metrics: z.strictObject({ host: host.default('127.0.0.1'), port }).optional(),
    flushIntervalMs: int('the longest delay before records are fsynced, in ms', 1, 60_000).default(100),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: expected('expected one of fatal, error, warn, info, debug, trace, silent') }).default('info'),
  })
  .superRefine((c, ctx) => {
    const user = c.clientId.split(':')[0];
    if (c.username !== undefined && c.username !== user) {
      ctx.addIssue({ code: 'custom', path: ['clientId'], message: `expected "${c.username}" or "${c.username}:<session>" (the broker refuses a client id that is not its username), got ${JSON.stringify(c.clientId)}` });
    }
    const tls = URL_RE.exec(c.broker.url)?.[1] === 'mqtts';
    if (!tls && c.broker.caFile !== undefined) ctx.addIssue({ code: 'custom', path: ['broker', 'caFile'], message: 'applies to mqtts:// URLs only (broker.url is mqtt://)' });
    if (!tls && c.broker.servername !== undefined) ctx.addIssue({ code: 'custom', path: ['broker', 'servername'], message: 'applies to mqtts:// URLs only (broker.url is mqtt://)' });
    if (c.broker.reconnect.maxMs < c.broker.reconnect.minMs) ctx.addIssue({ code: 'custom', path: ['broker', 'reconnect', 'maxMs'], message: `expected at least reconnect.minMs (${c.broker.reconnect.minMs}), got ${c.broker.reconnect.maxMs}` });
    if (c.windowing.minWindowS > c.windowing.windowS) ctx.addIssue({ code: 'custom', path: ['windowing', 'minWindowS'], message: `expected at most windowing.windowS (${c.windowing.windowS}), got ${c.windowing.minWindowS}` });
    if (c.metrics && c.metrics.port !== 0 && c.metrics.port === c.http.port && c.metrics.host === c.http.host) {
      ctx.addIssue({ code: 'custom', path: ['metrics', 'port'], message: `expected a port other than http.port (${c.http.port}); leave metrics out to serve /metrics on the HTTP port` });
    }
  });

export type GatewayConfigInput = z.input<typeof GatewayConfigSchema>;
/** A validated config: every default filled in, every path absolute, `username` always set. */
export type GatewayConfig = z.output<typeof GatewayConfigSchema> & { username: string };

function fieldPath(p: readonly PropertyKey[]): string {
  if (p.length === 0) return '(top level)';
  return p.map((k, n) => (typeof k === 'number' ? `[${k}]` : n === 0 ? String(k) : `.${String(k)}`)).join('');
}

/** One `field: message` line per problem; unknown keys are named one by one. */
export function formatConfigIssues(issues: readonly z.core.$ZodIssue[]): string {
  const lines: string[] = [];
  for (const i of issues) {
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys) lines.push(`  ${fieldPath([...i.path, k])}: unknown field (check the spelling against gateway/gateway.example.yaml)`);
    } else {
      lines.push(`  ${fieldPath(i.path)}: ${i.message}`);
    }
  }
  return lines.join('\n');
}

export class GatewayConfigError extends Error {
  override name = 'GatewayConfigError';
}

/** Validates a parsed config; `baseDir` anchors relative paths (the config file's folder). */
export function parseGatewayConfig(raw: unknown, baseDir = process.cwd(), source = 'gateway config'): GatewayConfig {
  const r = GatewayConfigSchema.safeParse(raw ?? {});
  if (!r.success) throw new GatewayConfigError(`invalid ${source}:\n${formatConfigIssues(r.error.issues)}`);
  const c = r.data;
  const abs = (p: string): string => path.resolve(baseDir, p);
  return {
    ...c,
    username: c.username ?? c.clientId.split(':')[0],
    passwordFile: abs(c.passwordFile),
    dataDir: abs(c.dataDir),
    keyFile: c.keyFile && abs(c.keyFile),
    broker: { ...c.broker, caFile: c.broker.caFile && abs(c.broker.caFile) },
    device: c.device.source === 'none' ? c.device : { ...c.device, path: abs(c.device.path) },
    model: { baseDir: abs(c.model.baseDir) },
  };
}

export function loadGatewayConfig(file: string): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatewayConfigError(`cannot read gateway config ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = path.extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new GatewayConfigError(`gateway config ${file} does not parse: ${(err as Error).message}`);
  }
  return parseGatewayConfig(raw, path.dirname(path.resolve(file)), `gateway config ${file}`);
}
