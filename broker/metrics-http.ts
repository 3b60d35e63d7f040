/**
 * Prometheus text at /metrics on a small HTTP listener: the broker's `metrics:` section and
 * `fedwear aggregator --metrics-port` (an aggregator running as a client) both serve theirs here.
 */
import http from 'node:http';
import type net from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  /** The bound port (port 0 picks a free one). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * `listenError` starts the error a failed listen throws (`<listenError> on host:port: <why>`); with
 * `log`, errors after listening are logged there.
 */
export async function serveMetrics(registry: Registry, opts: { host: string; port: number; listenError: string; log?: Logger }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      registry
        .metrics()
        .then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body))
        .catch((err: Error) => res.writeHead(500).end(err.message));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`${opts.listenError} on ${opts.host}:${opts.port}: ${err.message}`)));
    server.listen(opts.port, opts.host, () => resolve());
  });
  const log = opts.log;
  if (log) server.on('error', (err) => log.error({ err }, 'metrics listener error'));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
