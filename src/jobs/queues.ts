import { type JobsOptions, Queue } from 'bullmq';
import { ServiceUnavailableError, ValidationError } from '../errors.js';
import { withDeadline } from '../lib/deadline.js';
import type { RedisClient } from '../lib/redis.js';
import {
  type Effects,
  type Enqueue,
  type EnqueueBulk,
  type EnqueueOptions,
  type JobData,
  type JobName,
  jobEntry,
  jobIdOf,
  QUEUE_NAMES,
  type QueueName,
} from './catalog.js';

/** Completed jobs are removed quickly: Postgres is the record, Redis carries only work in flight. */
const REMOVE_ON_COMPLETE = { age: 600, count: 1000 } as const;
const REMOVE_ON_FAIL = { age: 7 * 86_400, count: 10_000 } as const;
/** Jobs read per Redis round trip when listing live jobs. */
const LIVE_PAGE = 1000;

/** BullMQ options of a job from its catalog entry; `payload` is the validated payload. */
export function jobOptions(name: JobName, payload: unknown, opts: EnqueueOptions = {}): JobsOptions {
  const entry = jobEntry(name);
  const jobId = jobIdOf(name, payload as never, opts.round);
  return {
    attempts: entry.attempts,
    backoff: { type: 'exponential', delay: entry.backoffMs ?? 5_000, jitter: 0.5 },
    removeOnComplete: REMOVE_ON_COMPLETE,
    removeOnFail: REMOVE_ON_FAIL,
    ...(jobId === undefined ? {} : { jobId }),
    ...(opts.delayMs ? { delay: Math.max(0, Math.round(opts.delayMs)) } : {}),
    ...(opts.priority === undefined ? {} : { priority: opts.priority }),
  };
}

function validate(name: string, payload: unknown): unknown {
  const parsed = jobEntry(name).payload.safeParse(payload);
  if (!parsed.success) {
    throw new ValidationError(`Invalid payload for job ${name}: ${parsed.error.message}`);
  }
  return parsed.data;
}

export type JobQueuesOptions = {
  /**
   * Fail an add that Redis has not acknowledged within this many ms with ServiceUnavailableError
   * (the API answers 503 instead of holding the request while Redis is down). Default: wait (workers
   * and the scheduler carry on once Redis is back).
   */
  addTimeoutMs?: number;
};

/** What a 503 for an unavailable queue tells the client to wait. */
const QUEUE_RETRY_AFTER_MS = 5_000;

/** The BullMQ queues of this deployment and a typed, validating `enqueue`, all from the catalog. */
export class JobQueues {
  private readonly queues = new Map<QueueName, Queue>();

  constructor(
    private readonly connection: RedisClient,
    readonly prefix: string,
    private readonly opts: JobQueuesOptions = {},
  ) {}

  /**
   * An add within `addTimeoutMs`, else ServiceUnavailableError. The add itself is not cancelled:
   * the connection's offline queue sends it once Redis answers again, and job ids make that safe.
   */
  private bounded<T>(add: Promise<T>): Promise<T> {
    const ms = this.opts.addTimeoutMs;
    return ms === undefined
      ? add
      : withDeadline(
          add,
          ms,
          () => new ServiceUnavailableError(QUEUE_RETRY_AFTER_MS, 'The job queue is not answering'),
        );
  }

  queue(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      // The shared connection already logs its errors (deps.ts); unheard, BullMQ prints each to stderr.
      queue.on('error', () => {});
      this.queues.set(name, queue);
    }
    return queue;
  }

  allQueues(): Queue[] {
    return QUEUE_NAMES.map((n) => this.queue(n));
  }

  enqueue: Enqueue = async (name, payload, opts) => {
    const data = validate(name, payload);
    await this.bounded(this.queue(jobEntry(name).queue).add(name, data, jobOptions(name, data, opts)));
  };

  /**
   * Every live job of `name` (see `LiveJobs`), read 1,000 at a time per state. Active jobs are read
   * first and again last, so a job that moves between states while the lists are read (waiting →
   * active, active → delayed for a retry) is still seen.
   */
  liveJobs = async <N extends JobName>(name: N): Promise<JobData<N>[]> => {
    const queue = this.queue(jobEntry(name).queue);
    const found = new Map<string, JobData<N>>();
    for (const state of ['active', 'wait', 'prioritized', 'delayed', 'waiting-children', 'active'] as const) {
      for (let start = 0; ; start += LIVE_PAGE) {
        const jobs = await queue.getJobs([state], start, start + LIVE_PAGE - 1, true);
        for (const job of jobs) {
          // A job removed between the list read and its hash read comes back undefined.
          if (job?.id !== undefined && job.name === name) {
            found.set(job.id, job.data as JobData<N>);
          }
        }
        if (jobs.length < LIVE_PAGE) {
          break;
        }
      }
    }
    return [...found.values()];
  };

  /** Many jobs of one name in one round trip per 1,000. */
  enqueueBulk: EnqueueBulk = async (name, payloads, opts = {}) => {
    const queue = this.queue(jobEntry(name).queue);
    for (let i = 0; i < payloads.length; i += 1000) {
      const chunk = payloads.slice(i, i + 1000).map((p) => {
        const data = validate(name, p);
        return { name, data, opts: jobOptions(name, data, opts) };
      });
      await this.bounded(queue.addBulk(chunk));
    }
  };

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}

/**
 * Queues what a step returned, in order: consecutive requests of one name with the same options go
 * in one round trip (a page's provisioning batches share their priority).
 */
export async function applyEffects(
  app: { enqueue: Enqueue; enqueueBulk: EnqueueBulk },
  effects: Effects,
): Promise<void> {
  let i = 0;
  while (i < effects.length) {
    const first = effects[i] as Effects[number];
    const key = JSON.stringify(first.opts ?? {});
    let end = i + 1;
    while (
      end < effects.length &&
      effects[end]?.name === first.name &&
      JSON.stringify(effects[end]?.opts ?? {}) === key
    ) {
      end += 1;
    }
    if (end - i === 1) {
      await app.enqueue(first.name, first.payload as never, first.opts);
    } else {
      await app.enqueueBulk(first.name, effects.slice(i, end).map((e) => e.payload) as never[], first.opts);
    }
    i = end;
  }
}
