import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { carriesToken } from '../api/admin/auth.js';
import type { Config } from '../config.js';
import { withDeadline } from '../lib/deadline.js';
import type { Shutdown } from '../lib/shutdown.js';
import type { Logger } from '../logger.js';
import type { Runtime } from '../runtime.js';
import { readiness } from '../services/operations.js';

/**
 * The health port of `ec worker` and `ec scheduler` (WORKER_HEALTH_PORT): `/healthz` (the process
 * answers), `/readyz` (Postgres and Redis answer: the same check as the API's, services/operations.ts
 * `readiness`) and `/metrics` (this process's registry; behind METRICS_TOKEN, else ADMIN_TOKEN, as
 * the API's is; open when neither is set, like any port a cluster keeps private). The probes stay
 * open: the kubelet sends no token. A plain node:http server: these processes serve nothing else.
 */
export type HealthServerOptions = {
  port: number;
  /** Default 0.0.0.0: probes come from the kubelet or the container runtime, not from loopback. */
  host?: string;
  readiness: () => Promise<Record<string, string>>;
  registry: Registry;
  /** The Bearer token `/metrics` requires (config.metricsToken). Default: none required. */
  metricsToken?: string | undefined;
  logger: Logger;
  /** False once the process is stopping: `/readyz` answers 503 so no new traffic is sent. */
  accepting?: () => boolean;
  /**
   * How long `/readyz` waits for the checks. Default 2,000 ms: the shared Redis connection queues
   * commands while Redis is away, so an unanswered ping must become a 503, not a hung probe.
   */
  readyTimeoutMs?: number;
};

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T> =>
  withDeadline(p, ms, () => new Error(`readiness checks took longer than ${ms} ms`));

export type HealthServer = { port: number; close: () => Promise<void> };

function send(res: import('node:http').ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const json = 'application/json; charset=utf-8';
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, json, JSON.stringify({ error: 'method_not_allowed' }));
      return;
    }
    if (path === '/healthz') {
      send(res, 200, json, JSON.stringify({ status: 'ok' }));
      return;
    }
    if (path === '/readyz') {
      void withTimeout(opts.readiness(), opts.readyTimeoutMs ?? 2_000).then(
        (checks) => {
          const ready = (opts.accepting?.() ?? true) && Object.values(checks).every((v) => v === 'ok');
          send(
            res,
            ready ? 200 : 503,
            json,
            JSON.stringify({ status: ready ? 'ready' : 'not_ready', checks }),
          );
        },
        (err: unknown) =>
          send(
            res,
            503,
            json,
            JSON.stringify({
              status: 'not_ready',
              checks: { readiness: err instanceof Error ? err.message : String(err) },
            }),
          ),
      );
      return;
    }
    if (path === '/metrics') {
      if (opts.metricsToken && !carriesToken(req.headers.authorization, opts.metricsToken)) {
        res.setHeader('www-authenticate', 'Bearer');
        send(res, 401, json, JSON.stringify({ error: 'unauthorized', message: 'METRICS_TOKEN required' }));
        return;
      }
      void opts.registry.metrics().then(
        (body) => send(res, 200, opts.registry.contentType, body),
        (err: unknown) => {
          opts.logger.warn(
            { err: err instanceof Error ? err.message : String(err) },
            'metrics render failed',
          );
          send(res, 500, json, JSON.stringify({ error: 'metrics_unavailable' }));
        },
      );
      return;
    }
    send(res, 404, json, JSON.stringify({ error: 'not_found' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  opts.logger.info({ port }, 'health port listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * `ec worker` and `ec scheduler`: the health server on WORKER_HEALTH_PORT when it is set. Call it
 * right after the runtime's closer is registered: closers run in reverse, so it closes after the
 * work has drained, and `/readyz` says 503 meanwhile.
 */
export async function serveProcessHealth(
  config: Config,
  runtime: Runtime,
  shutdown: Shutdown,
  logger: Logger,
): Promise<void> {
  if (config.worker.healthPort === undefined) {
    return;
  }
  const health = await startHealthServer({
    port: config.worker.healthPort,
    readiness: () => readiness(runtime.app),
    registry: runtime.metrics.registry,
    metricsToken: config.metricsToken,
    logger,
    accepting: () => !shutdown.signal.aborted,
  });
  shutdown.onClose('health', health.close);
}
