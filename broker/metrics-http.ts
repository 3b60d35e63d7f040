/** Prometheus text at /metrics for an aggregator running as a client (`fedwear aggregator --metrics-port`). */
import http from 'node:http';
import type net from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  /** The bound port (port 0 picks a free one). */
  readonly port: number;
  close(): Promise<void>;
}

export async function serveAggregatorMetrics(registry: Registry, opts: { host: string; port: number }): Promise<MetricsServer> {
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
    server.once('error', (err) => reject(new Error(`--metrics-port: cannot listen on ${opts.host}:${opts.port}: ${err.message}`)));
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
