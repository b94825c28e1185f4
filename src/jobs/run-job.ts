import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { isAppError, RateLimitedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AppContext } from '../services/context.js';
import { TransientBatchError } from '../services/provisioning-pipeline.js';
import { applyEffects } from './queues.js';
import type { RegisteredJob } from './registry.js';

/**
 * A rate limit (ours, the quota limiter's or a provider's: one RateLimitedError) delays the job, as
 * does a provisioning batch that made progress and has items left to retry.
 */
function rateLimitDelay(err: unknown): number | undefined {
  if (err instanceof TransientBatchError) {
    return err.retryInMs;
  }
  return err instanceof RateLimitedError ? err.retryAfterMs : undefined;
}

/** How a job attempt ended: `error` is retried by the queue, `failed` is final, `delayed` was rate limited. */
export type JobOutcome = 'completed' | 'error' | 'failed' | 'delayed';

/** Told about every job attempt once it ends (e.g. to feed a duration histogram). */
export type JobObserver = (o: {
  name: string;
  queue: string;
  durationSecs: number;
  outcome: JobOutcome;
}) => void;

/**
 * The BullMQ processor for every job: validates the payload (invalid → fails for good), runs the
 * handler, queues the jobs it returned (its effects: after its transactions committed), and turns
 * our errors into BullMQ's retry decisions: non-retryable → UnrecoverableError; rate limited → this job alone is delayed without spending an attempt; anything else is retried
 * with exponential backoff and jitter.
 */
export function createProcessor(
  registry: ReadonlyMap<string, RegisteredJob>,
  app: AppContext,
  signal: AbortSignal,
  observe?: JobObserver,
): (job: Job, token?: string) => Promise<void> {
  const run = processJob(registry, app, signal);
  if (!observe) {
    return run;
  }
  return async (job, token) => {
    const started = performance.now();
    let outcome: JobOutcome = 'completed';
    try {
      await run(job, token);
    } catch (err) {
      outcome =
        err instanceof DelayedError ? 'delayed' : err instanceof UnrecoverableError ? 'failed' : 'error';
      throw err;
    } finally {
      observe({
        name: job.name,
        queue: job.queueName,
        durationSecs: (performance.now() - started) / 1000,
        outcome,
      });
    }
  };
}

function processJob(
  registry: ReadonlyMap<string, RegisteredJob>,
  app: AppContext,
  signal: AbortSignal,
): (job: Job, token?: string) => Promise<void> {
  return async (job, token) => {
    const logger: Logger = app.logger.child({
      jobId: job.id,
      jobName: job.name,
      attempt: job.attemptsMade + 1,
    });
    const def = registry.get(job.name);
    if (!def) {
      throw new UnrecoverableError(`Unknown job "${job.name}"`);
    }
    const parsed = def.payload.safeParse(job.data);
    if (!parsed.success) {
      logger.error({ issues: parsed.error.issues }, 'invalid job payload');
      throw new UnrecoverableError(`Invalid payload: ${parsed.error.message}`);
    }
    try {
      const effects = await def.handle(parsed.data, {
        app,
        logger,
        signal,
        attempt: job.attemptsMade + 1,
        maxAttempts: job.opts.attempts ?? def.attempts,
        jobId: job.id ?? '',
      });
      if (effects && effects.length > 0) {
        await applyEffects(app, effects);
      }
    } catch (err) {
      const delayMs = rateLimitDelay(err);
      if (delayMs !== undefined && token) {
        logger.info({ delayMs }, 'job rate limited; delayed');
        await job.moveToDelayed(Date.now() + delayMs, token);
        throw new DelayedError();
      }
      if (isAppError(err) && !err.retryable) {
        logger.warn({ code: err.code, err: err.message }, 'job failed for good');
        throw new UnrecoverableError(`${err.code}: ${err.message}`);
      }
      logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'job failed; will retry');
      throw err;
    }
  };
}
