import { type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { ValidationError } from '../errors.js';
import type { JobDefinition, QueueName } from './define-job.js';
import { QUEUE_NAMES } from './define-job.js';
import { buildRegistry, type JobName, type JobPayload } from './registry.js';

export type EnqueueOptions = {
  /** Run no earlier than this many ms from now. */
  delayMs?: number;
  /** Overrides the job's deterministic id (e.g. one per retry round). */
  jobId?: string;
  /** Lower runs first (BullMQ priority); used to keep small runs ahead of huge ones. */
  priority?: number;
};

export type Enqueue = <N extends JobName>(
  name: N,
  payload: JobPayload<N>,
  opts?: EnqueueOptions,
) => Promise<void>;

/** Completed jobs are removed quickly: Postgres is the record, Redis carries only work in flight. */
const REMOVE_ON_COMPLETE = { age: 600, count: 1000 } as const;
const REMOVE_ON_FAIL = { age: 7 * 86_400, count: 10_000 } as const;

export function jobOptions(def: JobDefinition, payload: unknown, opts: EnqueueOptions = {}): JobsOptions {
  const jobId = opts.jobId ?? def.jobId?.(payload);
  return {
    attempts: def.attempts,
    backoff: { type: 'exponential', delay: def.backoffMs ?? 5_000, jitter: 0.5 },
    removeOnComplete: REMOVE_ON_COMPLETE,
    removeOnFail: REMOVE_ON_FAIL,
    ...(jobId === undefined ? {} : { jobId }),
    ...(opts.delayMs ? { delay: Math.max(0, Math.round(opts.delayMs)) } : {}),
    ...(opts.priority === undefined ? {} : { priority: opts.priority }),
  };
}

/** The BullMQ queues of this deployment and a typed, validating `enqueue`. */
export class JobQueues {
  readonly registry = buildRegistry();
  private readonly queues = new Map<QueueName, Queue>();

  constructor(
    private readonly connection: Redis,
    readonly prefix: string,
  ) {}

  queue(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      this.queues.set(name, queue);
    }
    return queue;
  }

  allQueues(): Queue[] {
    return QUEUE_NAMES.map((n) => this.queue(n));
  }

  private definition(name: string): JobDefinition {
    const def = this.registry.get(name);
    if (!def) {
      throw new Error(`Unknown job "${name}"`);
    }
    return def;
  }

  private validate(def: JobDefinition, payload: unknown): unknown {
    const parsed = def.payload.safeParse(payload);
    if (!parsed.success) {
      throw new ValidationError(`Invalid payload for job ${def.name}: ${parsed.error.message}`);
    }
    return parsed.data;
  }

  enqueue: Enqueue = async (name, payload, opts) => {
    const def = this.definition(name);
    const data = this.validate(def, payload);
    await this.queue(def.queue).add(name, data, jobOptions(def, data, opts));
  };

  /** Many jobs of one name in one round trip per 1,000. */
  async enqueueBulk<N extends JobName>(
    name: N,
    payloads: JobPayload<N>[],
    opts: EnqueueOptions = {},
  ): Promise<void> {
    const def = this.definition(name);
    const queue = this.queue(def.queue);
    for (let i = 0; i < payloads.length; i += 1000) {
      const chunk = payloads.slice(i, i + 1000).map((p) => {
        const data = this.validate(def, p);
        return { name, data, opts: jobOptions(def, data, opts) };
      });
      await queue.addBulk(chunk);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
