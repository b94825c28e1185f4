import type { Command } from 'commander';
import { createDeps } from '../deps.js';
import { JobQueues } from '../jobs/queues.js';
import { exitOnSignals } from '../lib/shutdown.js';
import { startScheduler } from '../scheduler/register.js';
import { schedules } from '../scheduler/schedules.js';
import { startProcess } from './context.js';

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
      const deps = createDeps(config, logger, { dbPoolSize: 1, applicationName: 'ec-scheduler' });
      const queues = new JobQueues(deps.redis(), config.redis.queuePrefix);
      shutdown.onClose('deps', deps.close);
      shutdown.onClose('queues', () => queues.close());
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
