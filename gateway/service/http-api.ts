/**
 * The local HTTP API for the user's own app (node:http, loopback by default):
 *   GET /estimates?since=MS&limit=N&deviceId=D   estimates of windows ending after `since`
 *   GET /health                                  service state
 *   GET /metrics                                 Prometheus text (unless a separate metrics port is set)
 * Read-only; nothing here is reachable from the broker, and nothing here is sent to it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { MAX_ESTIMATES_PER_PAGE, type EstimatePage, type EstimateQuery } from './estimates.ts';

export interface HttpApiDeps {
  estimates?: (q: EstimateQuery) => EstimatePage;
  health?: () => { status: string };
  /** Serve /metrics from this registry. */
  registry?: Registry;
  log: Logger;
}

export interface HttpApi {
  port: number;
  close(): Promise<void>;
}

class BadRequest extends Error {}

function intParam(url: URL, name: string, min: number, max: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null) return undefined;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(v) || v < min || v > max) throw new BadRequest(`query parameter ${name}: expected a whole number in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return v;
}

function send(res: http.ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startHttpApi(host: string, port: number, deps: HttpApiDeps): Promise<HttpApi> {
  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err: Error) => {
      deps.log.error({ err, url: req.url }, 'http handler failed');
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: 'internal error' }));
      else res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = url.pathname;
    const known = (route === '/estimates' && deps.estimates) || (route === '/health' && deps.health) || (route === '/metrics' && deps.registry);
    if (!known) return send(res, 404, JSON.stringify({ error: `no route ${route}` }));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, JSON.stringify({ error: `${req.method} not allowed` }));
    }
    try {
      if (route === '/estimates' && deps.estimates) {
        const q: EstimateQuery = {
          sinceMs: intParam(url, 'since', 0, Number.MAX_SAFE_INTEGER),
          limit: intParam(url, 'limit', 1, MAX_ESTIMATES_PER_PAGE),
          deviceId: intParam(url, 'deviceId', 0, 0xffffffff),
        };
        return send(res, 200, JSON.stringify(deps.estimates(q)));
      }
      if (route === '/health' && deps.health) {
        const h = deps.health();
        return send(res, h.status === 'ok' ? 200 : 503, JSON.stringify(h));
      }
      if (route === '/metrics' && deps.registry) return send(res, 200, await deps.registry.metrics(), deps.registry.contentType);
    } catch (err) {
      if (err instanceof BadRequest) return send(res, 400, JSON.stringify({ error: err.message }));
      throw err;
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
