import type { Command } from 'commander';
import { buildServer } from '../api/server.js';
import { startWorkers } from '../jobs/worker.js';
import { exitOnSignals } from '../lib/shutdown.js';
import { startMetricsPublisher } from '../metrics/share.js';
import { API_ENQUEUE_TIMEOUT_MS, createRuntime } from '../runtime.js';
import { startProcess } from './context.js';
import { serveProcessHealth } from './health-server.js';

/** `ec api` and `ec worker`: long-running processes that stop cleanly on SIGTERM/SIGINT. */
export function registerProcessCommands(program: Command): void {
  program
    .command('api')
    .description('run the HTTP API')
    .action(async () => {
      const { config, logger, shutdown } = startProcess();
      // Bounded adds: with Redis down, a route that needs the queue answers 503 instead of hanging.
      const runtime = createRuntime(config, logger, {
        applicationName: 'ec-api',
        enqueueTimeoutMs: API_ENQUEUE_TIMEOUT_MS,
      });
      shutdown.onClose('runtime', runtime.close);
      const server = await buildServer(runtime.app, { queues: runtime.queues, metrics: runtime.metrics });
      shutdown.onClose('http', () => server.close());
      exitOnSignals(shutdown);
      await server.listen({ host: config.http.host, port: config.http.port });
      logger.info({ url: config.http.publicUrl }, 'api listening');
    });

  program
    .command('worker')
    .description('run the queue workers (scale by running more)')
    .action(async () => {
      const { config, logger, shutdown } = startProcess();
      const runtime = createRuntime(config, logger, { applicationName: 'ec-worker' });
      shutdown.onClose('runtime', runtime.close);
      await serveProcessHealth(config, runtime, shutdown, logger);
      const workers = startWorkers(runtime.app, runtime.deps.redis(), {
        observeJob: runtime.metrics.observeJob,
      });
      shutdown.onClose('workers', workers.close);
      // The API serves /metrics: it merges this process's job/provider/limiter figures from Redis.
      const publisher = startMetricsPublisher({
        redis: runtime.deps.redis(),
        prefix: config.redis.queuePrefix,
        registry: runtime.metrics.registry,
        logger,
      });
      shutdown.onClose('metrics', publisher.close);
      exitOnSignals(shutdown);
      logger.info({ queues: workers.workers.map((w) => w.name) }, 'workers started');
      // After a crash or a Redis flush, put back work Postgres says is unfinished.
      await runtime.app.enqueue('runs.reconcile', {}, { round: Math.floor(Date.now() / 60_000) });
    });
}
