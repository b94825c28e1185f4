import type { Logger } from '../logger.js';
import type { AppContext } from '../services/context.js';
import type { Effects, JobData, JobName } from './catalog.js';

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

/**
 * The handler of one catalog entry. It receives the validated payload and may return the jobs to
 * queue next (its effects): the job runner queues them once the handler returned, i.e. after the
 * handler's transactions committed. A handler that throws queues nothing.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a handler with nothing to queue next returns nothing.
export type Handler<N extends JobName> = (payload: JobData<N>, ctx: JobContext) => Promise<Effects | void>;
