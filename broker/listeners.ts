/**
 * The network edges: TCP, TLS and WebSocket servers. Each admits a connection through the gate
 * (connection cap, per-IP rate) before reading a byte, wraps it in the packet-size guard, and hands
 * it to aedes. close() stops accepting and destroys every connection still open.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { ConnectionGate } from './connection-gate.ts';
import type { BrokerMetrics, Transport } from './metrics.ts';
import { describeViolation, PacketGuardStream } from './packet-guard-stream.ts';

export interface ConnectionInfo {
  transport: Transport;
  remoteAddress: string;
}

export interface ListenerDeps {
  gate: ConnectionGate;
  metrics: BrokerMetrics;
  log: Logger;
  maxPacketBytes: number;
  /** Called with the guarded stream of every admitted connection (aedes.handle). */
  handle(stream: Duplex, info: ConnectionInfo): void;
}

export interface Listener {
  transport: Transport;
  port: number;
  close(): Promise<void>;
}

export interface TlsFiles {
  key: Buffer;
  cert: Buffer;
  ca?: Buffer;
}

export function listenTcp(opts: { host: string; port: number }, deps: ListenerDeps): Promise<Listener> {
  const server = net.createServer();
  const sockets = track(server, 'tcp', deps);
  server.on('connection', (socket) => {
    if (sockets.has(socket)) handOff(socket, { transport: 'tcp', remoteAddress: socket.remoteAddress ?? 'unknown' }, deps);
  });
  return bind(server, opts, 'tcp', sockets, deps.log);
}

export function listenTls(opts: { host: string; port: number } & TlsFiles, deps: ListenerDeps): Promise<Listener> {
  const server = tls.createServer({ key: opts.key, cert: opts.cert, ca: opts.ca });
  const sockets = track(server, 'tls', deps);
  server.on('secureConnection', (socket) => handOff(socket, { transport: 'tls', remoteAddress: socket.remoteAddress ?? 'unknown' }, deps));
  server.on('tlsClientError', (err, socket) => deps.log.debug({ err, ip: socket.remoteAddress }, 'TLS handshake failed'));
  return bind(server, opts, 'tls', sockets, deps.log);
}

export function listenWebSocket(opts: { host: string; port: number; path: string } & Partial<TlsFiles>, deps: ListenerDeps): Promise<Listener> {
  const onRequest = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('MQTT over WebSocket only\n');
  };
  const server = opts.key && opts.cert ? https.createServer({ key: opts.key, cert: opts.cert, ca: opts.ca }, onRequest) : http.createServer(onRequest);
  const sockets = track(server, 'ws', deps);
  // maxPayload bounds what ws buffers per frame; an MQTT packet never spans more than its own size.
  const wss = new WebSocketServer({ server, path: opts.path, maxPayload: deps.maxPacketBytes });
  wss.on('connection', (ws, req) => {
    ws.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        deps.metrics.oversizePackets.inc({ transport: 'ws' });
        deps.log.warn({ ip: req.socket.remoteAddress }, `connection cut: WebSocket frame over ${deps.maxPacketBytes} bytes`);
      }
    });
    handOff(createWebSocketStream(ws), { transport: 'ws', remoteAddress: req.socket.remoteAddress ?? 'unknown' }, deps);
  });
  wss.on('error', (err) => deps.log.error({ err }, 'WebSocket server error'));
  // ws 8 calls close's callback only once every client has gone: end them first, or close() waits
  // for as long as a browser (the live dashboard) stays connected.
  const closeWss = (): Promise<void> => {
    const closed = new Promise<void>((r) => wss.close(() => r()));
    for (const ws of wss.clients) ws.terminate();
    return closed;
  };
  return bind(server, opts, 'ws', sockets, deps.log, closeWss);
}

/** Admission control on the raw socket, before TLS or HTTP sees a byte. Returns the admitted sockets. */
function track(server: net.Server, transport: Transport, { gate, metrics, log }: ListenerDeps): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  // prependListener: tls and http attach their own 'connection' handlers first; ours must decide before they read.
  server.prependListener('connection', (socket: net.Socket) => {
    const ip = socket.remoteAddress ?? 'unknown';
    const a = gate.admit(ip);
    if (!a.admitted) {
      metrics.connectionsRefused.inc({ transport, reason: a.reason });
      log.warn({ ip, transport, reason: a.reason }, 'connection refused');
      socket.destroy();
      return;
    }
    metrics.connectionsAccepted.inc({ transport });
    metrics.connectionsOpen.inc();
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      gate.release();
      metrics.connectionsOpen.dec();
    });
  });
  return sockets;
}

function handOff(stream: Duplex, info: ConnectionInfo, deps: ListenerDeps): void {
  if (stream.destroyed) return;
  const guarded = new PacketGuardStream(stream, deps.maxPacketBytes, (v) => {
    if (v.kind === 'oversize') deps.metrics.oversizePackets.inc({ transport: info.transport });
    else deps.metrics.malformedPackets.inc({ transport: info.transport });
    deps.log.warn({ ip: info.remoteAddress, transport: info.transport }, `connection cut: ${describeViolation(v)}`);
  });
  deps.handle(guarded, info);
}

function bind(
  server: net.Server,
  opts: { host: string; port: number },
  transport: Transport,
  sockets: Set<net.Socket>,
  log: Logger,
  beforeClose?: () => Promise<void>,
): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const onListenError = (err: Error): void => reject(new Error(`${transport} listener on ${opts.host}:${opts.port}: ${err.message}`));
    server.once('error', onListenError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onListenError);
      server.on('error', (err) => log.error({ err, transport }, 'listener error'));
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        transport,
        port,
        close: async () => {
          const closed = new Promise<void>((r) => server.close(() => r()));
          await beforeClose?.();
          for (const s of sockets) s.destroy();
          await closed;
        },
      });
    });
  });
}
