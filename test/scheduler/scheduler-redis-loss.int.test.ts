import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { startScheduler } from '../../src/scheduler/register.js';
import { schedules } from '../../src/scheduler/schedules.js';
import { useTestApp } from '../helpers/app.js';
import { deleteKeys, testRedis } from '../helpers/redis.js';
import { eventually } from './helpers.js';

// Redis restarted empty loses the job schedulers and every queued job: the scheduler notices within
// seconds (not at its next 5-minute refresh), registers them again and queues the reconciler at once.
const t = useTestApp({ workers: false });

describe('the scheduler after Redis lost its data', () => {
  it('registers the schedulers again and queues a reconcile right away', async () => {
    const list = schedules(t.config.scheduler);
    const maintenance = t.runtime.queues.queue('maintenance');
    const scheduler = await startScheduler(t.runtime.queues, list, createLogger({ level: 'silent' }), {
      checkMs: 200,
    });
    try {
      expect(await maintenance.getJobScheduler('runs.reconcile')).toBeTruthy();
      const redis = testRedis();
      try {
        expect(await deleteKeys(redis, `${t.config.redis.queuePrefix}:*`)).toBeGreaterThan(0);
      } finally {
        redis.disconnect();
      }
      expect(await maintenance.getJobScheduler('runs.reconcile')).toBeFalsy();
      await eventually(
        async () =>
          (await maintenance.getJobScheduler('runs.reconcile')) &&
          (await maintenance.getJobs(['wait', 'prioritized', 'delayed'])).some(
            (j) => j?.name === 'runs.reconcile' && j.id?.startsWith('reconcile-boot-lost-'),
          ),
        'schedulers and a reconcile job back',
        5_000,
      );
      const ids = (await t.runtime.queues.queue('maintenance').getJobSchedulers(0, -1)).map((s) => s.key);
      expect(ids).toContain('runs.reconcile');
    } finally {
      await scheduler.close();
    }
  });
});
