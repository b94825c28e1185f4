import { JOBS, type JobEntry, QUEUE_NAMES } from '../jobs/catalog.js';
import { type JobQueues, jobOptions } from '../jobs/queues.js';
import type { Logger } from '../logger.js';
import type { Schedule } from './schedules.js';

/**
 * The scheduler process's only work: make BullMQ's job schedulers match the schedule list. Upserting
 * is idempotent and keyed by id, so two scheduler processes register the same schedulers and every
 * iteration is one job (BullMQ derives the iteration's job id from the scheduler id and its time).
 */

/** Fails on a schedule naming an unknown job, an invalid payload, or an id used twice. */
export function validateSchedules(
  list: readonly Schedule[],
  jobs: ReadonlyMap<string, JobEntry> = new Map(Object.entries(JOBS)),
): Map<string, JobEntry> {
  const defs = new Map<string, JobEntry>();
  for (const s of list) {
    const def = jobs.get(s.job);
    if (!def) {
      throw new Error(`Schedule "${s.id}" names unknown job "${s.job}"`);
    }
    if (defs.has(s.id)) {
      throw new Error(`Schedule id "${s.id}" is listed twice`);
    }
    if (!def.payload.safeParse({}).success) {
      throw new Error(`Schedule "${s.id}": job "${s.job}" needs a payload; scheduled jobs take none`);
    }
    if ('everyMs' in s && !(Number.isInteger(s.everyMs) && s.everyMs > 0)) {
      throw new Error(`Schedule "${s.id}": everyMs must be a positive whole number`);
    }
    defs.set(s.id, def);
  }
  return defs;
}

export type RegisterResult = { upserted: string[]; removed: string[] };

/** Upserts every listed schedule and removes job schedulers whose id is no longer listed. */
export async function registerSchedules(
  queues: JobQueues,
  list: readonly Schedule[],
  logger: Logger,
): Promise<RegisterResult> {
  const defs = validateSchedules(list);
  const upserted: string[] = [];
  for (const s of list) {
    const def = defs.get(s.id) as JobEntry;
    const { jobId: _jobId, delay: _delay, deduplication: _dedup, ...opts } = jobOptions(s.job, {});
    const repeat = 'everyMs' in s ? { every: s.everyMs } : { pattern: s.pattern, tz: s.tz ?? 'UTC' };
    await queues.queue(def.queue).upsertJobScheduler(s.id, repeat, { name: s.job, data: {}, opts });
    upserted.push(s.id);
  }
  const removed: string[] = [];
  for (const name of QUEUE_NAMES) {
    const queue = queues.queue(name);
    const wanted = new Set(list.filter((s) => defs.get(s.id)?.queue === name).map((s) => s.id));
    for (const existing of await queue.getJobSchedulers(0, -1)) {
      if (!wanted.has(existing.key)) {
        await queue.removeJobScheduler(existing.key);
        removed.push(existing.key);
      }
    }
  }
  if (removed.length > 0) {
    logger.info({ removed }, 'stale job schedulers removed');
  }
  return { upserted, removed };
}

export type SchedulerOptions = {
  /**
   * How often the schedulers are registered again, so they come back by themselves after Redis
   * lost them (a flush, a failover without persistence). Default 5 min.
   */
  refreshMs?: number;
  /**
   * How often the scheduler checks that Redis still holds every listed scheduler. One missing means
   * Redis lost its data (restarted empty, flushed): the schedulers are registered again at once and
   * the reconciler is queued now, instead of waiting for the next refresh. Default 10 s.
   */
  checkMs?: number;
};

export type RunningScheduler = { close: () => Promise<void> };

/** True when every listed scheduler exists in Redis. */
async function schedulersPresent(queues: JobQueues, list: readonly Schedule[]): Promise<boolean> {
  const defs = validateSchedules(list);
  for (const s of list) {
    const def = defs.get(s.id) as JobEntry;
    if (!(await queues.queue(def.queue).getJobScheduler(s.id))) {
      return false;
    }
  }
  return true;
}

/** Registers the schedules now and again every `refreshMs` until closed. */
export async function startScheduler(
  queues: JobQueues,
  list: readonly Schedule[],
  logger: Logger,
  opts: SchedulerOptions = {},
): Promise<RunningScheduler> {
  await registerSchedules(queues, list, logger);
  let refreshing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    refreshing = registerSchedules(queues, list, logger).catch((err: unknown) =>
      logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'refreshing job schedulers failed',
      ),
    );
  }, opts.refreshMs ?? 300_000);
  let checking: Promise<unknown> = Promise.resolve();
  const check = setInterval(() => {
    checking = (async () => {
      if (await schedulersPresent(queues, list)) {
        return;
      }
      logger.warn('job schedulers missing from Redis (restarted empty?); registering them again');
      await registerSchedules(queues, list, logger);
      if (list.some((s) => s.job === 'runs.reconcile')) {
        // Everything queued was lost with them: put back what Postgres says is unfinished, now.
        await queues.enqueue('runs.reconcile', {}, { round: `lost-${Date.now()}` });
      }
    })().catch(() => {
      // Redis still away: the next check tries again.
    });
  }, opts.checkMs ?? 10_000);
  return {
    close: async () => {
      clearInterval(timer);
      clearInterval(check);
      await Promise.all([refreshing, checking]);
    },
  };
}
