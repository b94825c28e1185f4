/**
 * One error model for the whole service. Every failure we expect carries a stable `code`, whether
 * trying again may help (`retryable`), and structured `context` for logs. The API maps codes to HTTP
 * statuses in one place (api/errors.ts); the job runner maps `retryable` to BullMQ's retry or
 * UnrecoverableError (jobs/run-job.ts).
 */
export type ErrorContext = Record<string, unknown>;

export type AppErrorOptions = {
  retryable?: boolean;
  context?: ErrorContext;
  cause?: unknown;
};

export class AppError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly context: ErrorContext;

  constructor(code: string, message: string, opts: AppErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.context = opts.context ?? {};
  }
}

/** Input from outside (CLI args, bodies, payloads) that cannot be used. Never retryable. */
export class ValidationError extends AppError {
  constructor(
    message: string,
    readonly fields: Record<string, string[]> = {},
    opts: AppErrorOptions = {},
  ) {
    super('validation_failed', message, { ...opts, retryable: false });
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends AppError {
  constructor(what: string, id: string) {
    super('not_found', `${what} ${id} not found`, { context: { what, id } });
    this.name = 'NotFoundError';
  }
}

/** A provider or our own limiter says "not now": retry after `retryAfterMs`, do not count as a failure. */
export class RateLimitedError extends AppError {
  constructor(
    readonly retryAfterMs: number,
    message = 'rate limited',
    opts: AppErrorOptions = {},
  ) {
    super('rate_limited', message, { ...opts, retryable: true });
    this.name = 'RateLimitedError';
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** A short, safe description of any thrown value (for logs and stored error descriptions). */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    return err.message;
  }
  return String(err);
}
