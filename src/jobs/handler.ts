import type { z } from 'zod';
import type { Logger } from '../logger.js';
import type { AppContext } from '../services/context.js';

/**
 * The queues every worker serves. Separate queues keep slow provider work from delaying other work.
 * (Callbacks and notifications are not a queue: the delivery pump sends them from the outbox.)
 */
export const QUEUE_NAMES = [
  'authorizations',
  'provisioning',
  'profiles',
  'directory',
  'maintenance',
] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export type JobContext = {
  app: AppContext;
  logger: Logger;
  /** Aborted when the worker is shutting down: long handlers stop early and let the job be retried. */
  signal: AbortSignal;
  /** 1 on the first attempt. */
  attempt: number;
  /** Attempts allowed in total (so a handler can tell its last attempt). */
  maxAttempts: number;
  jobId: string;
};

export type JobDefinition<N extends string = string, S extends z.ZodType = z.ZodType> = {
  name: N;
  queue: QueueName;
  payload: S;
  /** Attempts in total, including the first. Default 5. */
  attempts: number;
  /** First retry delay; doubles each attempt, with jitter. Default 5 s. */
  backoffMs?: number;
  /** Deterministic job id from the payload, so enqueuing the same work twice is one job. */
  jobId?: (payload: z.infer<S>) => string;
  handle: (payload: z.infer<S>, ctx: JobContext) => Promise<void>;
};

/**
 * A job is one file: name, queue, payload schema, retry policy and handler. The payload is
 * validated when enqueued and again when dequeued; an invalid one fails for good (never retried).
 */
export function defineJob<const N extends string, S extends z.ZodType>(
  def: JobDefinition<N, S>,
): JobDefinition<N, S> {
  return def;
}
