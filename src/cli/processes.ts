import type { Command } from 'commander';
import { startProcess } from './context.js';
import { closeHttp, REDIS_STEP, RUNTIME_STEP, STOP_BUDGETS, stopOnSignals } from './process-stop.js';

/**
 * `ec api` and `ec worker`: long-running processes that stop cleanly on SIGTERM/SIGINT, within their
 * grace period even with Redis away (every step bounded; see process-stop.ts). Each loads only what it
 * runs (a worker never loads the HTTP API's modules, nor the API the job handlers' own).
 */
export function registerProcessCommands(program: Command): void {
  program
    .command('api')
    .description('run the HTTP API')
    .action(async () => {
      const { config, logger, shutdown } = startProcess();
      const [{ API_ENQUEUE_TIMEOUT_MS, createRuntime }, { buildServer }] = await Promise.all([
        import('../runtime.js'),
        import('../api/server.js'),
      ]);
      // Bounded adds: with Redis down, a route that needs the queue answers 503 instead of hanging.
      const runtime = createRuntime(config, logger, {
        applicationName: 'ec-api',
        enqueueTimeoutMs: API_ENQUEUE_TIMEOUT_MS,
      });
      shutdown.onClose('runtime', runtime.close, RUNTIME_STEP);
      const server = await buildServer(runtime.app, { queues: runtime.queues, metrics: runtime.metrics });
      shutdown.onClose('http', async () => {
        if (await closeHttp(server, STOP_BUDGETS.api.httpMs)) {
          logger.warn({ afterMs: STOP_BUDGETS.api.httpMs }, 'open HTTP connections cut at shutdown');
        }
      });
      stopOnSignals(shutdown, logger, STOP_BUDGETS.api.graceMs);
      await server.listen({ host: config.http.host, port: config.http.port });
      logger.info({ url: config.http.publicUrl }, 'api listening');
    });

  program
    .command('worker')
    .description('run the queue workers (scale by running more)')
    .action(async () => {
      const { config, logger, shutdown } = startProcess();
      const [
        { createRuntime },
        { serveProcessHealth },
        { startWorkers },
        { drainWorkers },
        { startMetricsPublisher },
      ] = await Promise.all([
        import('../runtime.js'),
        import('./health-server.js'),
        import('../jobs/worker.js'),
        import('../jobs/drain.js'),
        import('../metrics/share.js'),
      ]);
      const runtime = createRuntime(config, logger, { applicationName: 'ec-worker' });
      shutdown.onClose('runtime', runtime.close, RUNTIME_STEP);
      await serveProcessHealth(config, runtime, shutdown, logger);
      const workers = startWorkers(runtime.app, runtime.deps.redis(), {
        observeJob: runtime.metrics.observeJob,
      });
      shutdown.onClose('workers', async () => {
        const drained = await drainWorkers(workers, runtime.deps.redis(), {
          maxMs: STOP_BUDGETS.worker.drainMs,
        });
        if (drained.forced) {
          logger.warn(
            { reason: drained.reason },
            'workers closed by force; their active jobs run again later',
          );
          return 'forced';
        }
        return undefined;
      });
      // The API serves /metrics: it merges this process's job/provider/limiter figures from Redis.
      const publisher = startMetricsPublisher({
        redis: runtime.deps.redis(),
        prefix: config.redis.queuePrefix,
        registry: runtime.metrics.registry,
        logger,
      });
      shutdown.onClose('metrics', publisher.close, REDIS_STEP);
      stopOnSignals(shutdown, logger, STOP_BUDGETS.worker.graceMs);
      logger.info({ queues: workers.workers.map((w) => w.name) }, 'workers started');
      // After a crash or a Redis flush, put back work Postgres says is unfinished.
      await runtime.app
        .enqueue('runs.reconcile', {}, { round: Math.floor(Date.now() / 60_000) })
        .catch((err: unknown) => {
          // Stopped before the add went through (the queues closed under it): no failure.
          if (!shutdown.signal.aborted) {
            throw err;
          }
        });
    });
}
