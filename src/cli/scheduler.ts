import type { Command } from 'commander';
import { createRuntime } from '../runtime.js';
import { startScheduler } from '../scheduler/register.js';
import { schedules } from '../scheduler/schedules.js';
import { waitForRedis } from '../scheduler/wait-for-redis.js';
import { startProcess } from './context.js';
import { serveProcessHealth } from './health-server.js';
import { RUNTIME_STEP, STOP_BUDGETS, stopOnSignals } from './process-stop.js';

/**
 * `ec scheduler`: registers the recurring sweeps as BullMQ job schedulers and stays alive
 * (re-registering now and then). It runs no job itself; safe to run twice.
 */
export function registerSchedulerCommand(program: Command): void {
  program
    .command('scheduler')
    .description('register the recurring sweeps (job schedulers) and stay alive; safe to run twice')
    .action(async () => {
      const { config, logger, shutdown } = startProcess();
      // A runtime (not bare deps) for the health port's readiness check; its pool stays at one.
      const runtime = createRuntime(config, logger, { dbPoolSize: 1, applicationName: 'ec-scheduler' });
      const queues = runtime.queues;
      shutdown.onClose('runtime', runtime.close, RUNTIME_STEP);
      await serveProcessHealth(config, runtime, shutdown, logger);
      stopOnSignals(shutdown, logger, STOP_BUDGETS.scheduler.graceMs);
      const list = schedules(config.scheduler);
      // Started before Redis (a rollout, a Redis restart): wait for it rather than exit.
      if (!(await waitForRedis(runtime.deps.redis(), logger, shutdown.signal))) {
        return;
      }
      const scheduler = await startScheduler(queues, list, logger).catch((err: unknown) => {
        // A SIGTERM during the first registration closes the queues under it: that is no failure.
        if (shutdown.signal.aborted) {
          return undefined;
        }
        throw err;
      });
      if (!scheduler || shutdown.signal.aborted) {
        await scheduler?.close();
        return;
      }
      shutdown.onClose('scheduler', scheduler.close, { timeoutMs: 5_000 });
      logger.info(
        { schedules: list.map((s) => ({ id: s.id, ...('everyMs' in s ? { everyMs: s.everyMs } : {}) })) },
        'scheduler started',
      );
    });
}
