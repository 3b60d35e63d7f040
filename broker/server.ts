/**
 * startBroker: wires the pieces into one running broker. aedes with the access hooks, durable
 * persistence, the listeners, the broker-published status records, metrics and logs.
 * The caller gets the aedes instance: an in-process aggregator subscribes and publishes on it directly
 * (which bypasses the ACL by design).
 */
import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { Aedes, type Client } from 'aedes';
import { pino, type Logger } from 'pino';
import { createAccessHooks } from './access-hooks.ts';
import { parseBrokerConfig, type BrokerConfig, type BrokerConfigInput } from './config.ts';
import { ConnectionGate } from './connection-gate.ts';
import { CredentialStore } from './credential-store.ts';
import type { Identity } from './identity.ts';
import { listenTcp, listenTls, listenWebSocket, type ConnectionInfo, type Listener, type ListenerDeps } from './listeners.ts';
import { createBrokerMetrics, type BrokerMetrics } from './metrics.ts';
import { serveMetrics } from './metrics-http.ts';
import { openEmitter } from './emitter.ts';
import { openPersistence, type OpenedPersistence } from './persistence.ts';
import { installPublishGates, type PublishGates } from './publish-gate.ts';
import { parseStatusRecord, statusPacket, statusRecord } from './status.ts';
import { topicFilters } from './topics.ts';

export interface StartBrokerOptions {
  /** Defaults to pino on stderr at config.logLevel. */
  logger?: Logger;
  /** Use these credentials instead of reading config.credentialsFile. */
  credentials?: CredentialStore;
  /** Clock for the per-IP rate limit (tests). */
  now?: () => number;
}

export interface BrokerHandle {
  aedes: Aedes;
  config: BrokerConfig;
  tcpPort: number | undefined;
  tlsPort: number | undefined;
  wsPort: number | undefined;
  metricsPort: number | undefined;
  metrics: BrokerMetrics;
  log: Logger;
  /** The identity a connected client authenticated as. */
  identityOf(client: Client): Identity | undefined;
  /** The transport and address a client connected from. */
  connectionOf(client: Client): ConnectionInfo | undefined;
  /** Re-reads config.credentialsFile; new CONNECTs use it, open sessions keep their identity. */
  reloadCredentials(): void;
  /** In-process handling of client publishes that must finish before the PUBACK (publish-gate.ts). */
  publishGates: PublishGates;
  /**
   * With an `aggregator:` section, updates and ledger entries are held from the first connection
   * until the in-process aggregator has installed its gates and calls this (publish-gate.ts, hold).
   */
  releaseAggregatorHold: () => void;
  close(): Promise<void>;
}

export async function startBroker(input: BrokerConfigInput, opts: StartBrokerOptions = {}): Promise<BrokerHandle> {
  const config = parseBrokerConfig(input);
  const log = opts.logger ?? pino({ name: 'fedwear-broker', level: config.logLevel }, pino.destination(2));
  if (!opts.credentials && !config.credentialsFile) throw new Error('broker config: credentialsFile: expected the path of the credentials file');
  let credentials = opts.credentials ?? CredentialStore.fromFile(config.credentialsFile!);
  const tlsFiles = config.tls && readTlsFiles('tls', config.tls);
  const wssFiles = config.websocket?.keyFile && config.websocket.certFile ? readTlsFiles('websocket', { keyFile: config.websocket.keyFile, certFile: config.websocket.certFile }) : undefined;

  const metrics = createBrokerMetrics();
  const hooks = createAccessHooks({ credentials: () => credentials, metrics, log });
  const cleanups: Array<() => Promise<void>> = [];
  const runCleanups = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((err: Error) => log.error({ err }, 'shutdown step failed'));
  };

  try {
    // The emitter first: it checks that its Redis answers, and a persistence opened before a failure
    // here could not be closed (aedes-persistence-redis's destroy needs the aedes it never got).
    const emitter = await openEmitter(config.emitter, config.persistence, log);
    // aedes.close() closes its emitter; this covers a start that fails before aedes exists (a no-op after).
    cleanups.push(() => emitter.close());

    const store: OpenedPersistence = await openPersistence(config.persistence);
    cleanups.push(() => store.close());

    const aedes = await Aedes.createBroker({
      persistence: store.persistence,
      ...(emitter.mq ? { mq: emitter.mq } : {}),
      connectTimeout: config.limits.connectTimeoutMs,
      ...hooks,
    });
    cleanups.push(() => new Promise<void>((r) => aedes.close(() => r())));
    const publishGates = installPublishGates(aedes);
    const releaseAggregatorHold = config.aggregator ? publishGates.hold([topicFilters.allUpdates, topicFilters.allLedgers]) : () => {};

    let closing = false;
    const connections = new WeakMap<Duplex, ConnectionInfo>();
    const connectionOf = (client: Client): ConnectionInfo | undefined => connections.get(client.conn as Duplex);
    const sessions = trackSessions(aedes, { identityOf: hooks.identityOf, connectionOf, metrics, log, isClosing: () => closing, shared: emitter.shared });
    // Runs after the listeners close and before aedes does: a status record still being written
    // (a Redis round trip) would otherwise meet a closed emitter.
    cleanups.push(() => sessions.drain());
    // With brokers sharing state, an "online" record may be a live session on another broker: a
    // starting broker cannot tell it from one a crash cut, so it leaves them all alone.
    if (!emitter.shared) await markStaleSessionsOffline(aedes, log);

    const deps: ListenerDeps = {
      gate: new ConnectionGate({
        maxConnections: config.limits.maxConnections,
        perIpPerSecond: config.limits.connectionsPerIpPerSecond,
        perIpBurst: config.limits.connectionBurstPerIp,
        now: opts.now,
      }),
      metrics,
      log,
      maxPacketBytes: config.limits.maxPacketBytes,
      handle(stream, info) {
        connections.set(stream, info);
        const client = aedes.handle(stream);
        // aedes reports a parse error as a generic client error, like a reset socket; only its parser
        // (mqtt-packet) tells bytes that are not MQTT apart, and aedes closes the connection on it.
        (client as unknown as { _parser: EventEmitter })._parser.once('error', () => metrics.malformedPackets.inc({ transport: info.transport }));
      },
    };
    const listeners: Listener[] = [];
    const open = async (l: Promise<Listener>): Promise<Listener> => {
      const listener = await l;
      listeners.push(listener);
      return listener;
    };
    // Listeners close first on shutdown (cleanups run in reverse), so no new client races the teardown.
    cleanups.push(async () => {
      closing = true;
      await Promise.all(listeners.map((l) => l.close()));
    });
    const tcp = config.tcp ? await open(listenTcp(config.tcp, deps)) : undefined;
    const tlsL = config.tls && tlsFiles ? await open(listenTls({ ...config.tls, ...tlsFiles }, deps)) : undefined;
    const ws = config.websocket ? await open(listenWebSocket({ ...config.websocket, ...wssFiles }, deps)) : undefined;
    const metricsServer = config.metrics ? await serveMetrics(metrics.registry, { ...config.metrics, listenError: 'metrics listener', log }) : undefined;
    if (metricsServer) cleanups.push(metricsServer.close);

    log.info(
      { tcp: tcp?.port, tls: tlsL?.port, ws: ws?.port, metrics: metricsServer?.port, persistence: config.persistence.type, users: credentials.size },
      'broker listening',
    );

    return {
      aedes,
      config,
      tcpPort: tcp?.port,
      tlsPort: tlsL?.port,
      wsPort: ws?.port,
      metricsPort: metricsServer?.port,
      metrics,
      log,
      identityOf: hooks.identityOf,
      connectionOf,
      publishGates,
      releaseAggregatorHold,
      reloadCredentials() {
        if (!config.credentialsFile) throw new Error('no credentialsFile in the broker config to reload from');
        const next = CredentialStore.fromFile(config.credentialsFile);
        credentials = next;
        log.info({ users: next.size }, 'credentials reloaded');
      },
      close: runCleanups,
    };
  } catch (err) {
    await runCleanups();
    throw err;
  }
}

function readTlsFiles(field: string, f: { keyFile: string; certFile: string; caFile?: string }): { key: Buffer; cert: Buffer; ca?: Buffer } {
  const read = (name: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`broker config: ${field}.${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  return { key: read('keyFile', f.keyFile), cert: read('certFile', f.certFile), ...(f.caFile ? { ca: read('caFile', f.caFile) } : {}) };
}

interface SessionDeps {
  identityOf(client: Client): Identity | undefined;
  connectionOf(client: Client): ConnectionInfo | undefined;
  metrics: BrokerMetrics;
  log: Logger;
  isClosing(): boolean;
  /** Brokers share publishes (emitter.ts): a client may move to another broker of the cluster. */
  shared: boolean;
}

/** Logs sessions, counts them, and publishes their retained status/<clientId> record. */
function trackSessions(aedes: Aedes, { identityOf, connectionOf, metrics, log, isClosing, shared }: SessionDeps): { drain(): Promise<void> } {
  const online = new WeakSet<Client>();
  const endReason = new WeakMap<Client, string>();
  /** Client ids whose local session closed because the id connected to another broker of the cluster. */
  const movedAway = new Set<string>();
  /** Sessions that ended in this turn of the event loop, their offline record not yet published. */
  const ending = new Set<string>();
  if (shared) {
    // aedes announces every new session on $SYS/<brokerId>/new/clients and closes a local one with the
    // same id. That broker has already published the new "online" record, so this one must not
    // follow it with "offline". aedes's own listener runs in the same synchronous pass as this one,
    // before or after it, and may end the local session at once: hence `ending` and the deferral below.
    const clients = (aedes as unknown as { clients: Record<string, Client | undefined> }).clients;
    aedes.subscribe(
      '$SYS/+/new/clients',
      (packet, cb) => {
        const clientId = packet.payload.toString();
        if (packet.topic.split('/')[1] !== aedes.id && (clients[clientId] || ending.has(clientId))) movedAway.add(clientId);
        cb();
      },
      () => {},
    );
  }
  const inFlight = new Set<Promise<void>>();
  const publish = (packet: ReturnType<typeof statusPacket>): void => {
    const done = new Promise<void>((resolve) =>
      aedes.publish(packet, (err) => {
        if (err) log.error({ err, topic: packet.topic }, 'status publish failed');
        resolve();
      }),
    );
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };

  aedes.on('clientReady', (client) => {
    const identity = identityOf(client);
    if (!identity) return;
    online.add(client);
    metrics.clientsConnected.inc();
    const conn = connectionOf(client);
    log.info({ clientId: client.id, role: identity.role, transport: conn?.transport, ip: conn?.remoteAddress }, 'client connected');
    publish(statusPacket(statusRecord(client.id, identity, true, new Date())));
  });
  aedes.on('clientError', (client, err) => {
    endReason.set(client, err.message);
    log.debug({ clientId: client.id, err: err.message }, 'client error');
  });
  aedes.on('connectionError', (client, err) => log.debug({ err: err.message, ip: connectionOf(client)?.remoteAddress }, 'connection error before CONNECT'));
  aedes.on('keepaliveTimeout', (client) => endReason.set(client, 'keepalive timeout'));
  aedes.on('clientDisconnect', (client) => {
    if (!online.has(client)) return;
    online.delete(client);
    metrics.clientsConnected.dec();
    const identity = identityOf(client)!;
    const reason = endReason.get(client) ?? 'disconnected';
    const offline = (): void => {
      if (movedAway.delete(client.id)) {
        log.info({ clientId: client.id }, 'client disconnected: its session moved to another broker');
        return;
      }
      log.info({ clientId: client.id, reason }, 'client disconnected');
      // During shutdown persistence is about to close; the next start marks these sessions offline.
      if (!isClosing()) publish(statusPacket(statusRecord(client.id, identity, false, new Date(), reason)));
    };
    if (!shared) return offline();
    ending.add(client.id);
    setImmediate(() => {
      ending.delete(client.id);
      offline();
    });
  });
  return {
    async drain() {
      await Promise.all([...inFlight]);
    },
  };
}

/** Sessions still "online" in retained status records were cut by a broker stop or crash. */
async function markStaleSessionsOffline(aedes: Aedes, log: Logger): Promise<void> {
  const persistence = (aedes as unknown as { persistence: { createRetainedStream(pattern: string): AsyncIterable<{ payload: Buffer }> } }).persistence;
  const stale: Array<ReturnType<typeof statusPacket>> = [];
  for await (const packet of persistence.createRetainedStream(topicFilters.allStatus)) {
    const record = parseStatusRecord(packet.payload);
    if (record?.online) stale.push(statusPacket({ ...record, online: false, at: new Date().toISOString(), reason: 'broker restarted' }));
  }
  await Promise.all(stale.map((p) => new Promise<void>((resolve) => aedes.publish(p, () => resolve()))));
  if (stale.length > 0) log.info({ sessions: stale.length }, 'marked sessions cut by the last broker stop as offline');
}

