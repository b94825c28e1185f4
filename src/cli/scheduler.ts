import type { Command } from 'commander';
import { exitOnSignals } from '../lib/shutdown.js';
import { createRuntime } from '../runtime.js';
import { startScheduler } from '../scheduler/register.js';
import { schedules } from '../scheduler/schedules.js';
import { startProcess } from './context.js';
import { serveProcessHealth } from './health-server.js';

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
      shutdown.onClose('runtime', runtime.close);
      await serveProcessHealth(config, runtime, shutdown, logger);
      exitOnSignals(shutdown);
      const list = schedules(config.scheduler);
      const scheduler = await startScheduler(queues, list, logger);
      shutdown.onClose('scheduler', scheduler.close);
      logger.info(
        { schedules: list.map((s) => ({ id: s.id, ...('everyMs' in s ? { everyMs: s.everyMs } : {}) })) },
        'scheduler started',
      );
    });
}
