import { PROVIDER_REASON_CODES, type ProviderReason } from './lib/reasons.js';
/**
 * One error model for the whole service. Every failure we expect carries a stable `code` from the
 * closed set below, whether trying again may help (`retryable`), and structured `context` for logs.
 * The API maps each code to an HTTP status in one exhaustive switch (api/errors.ts); the job runner
 * maps `retryable` to BullMQ's retry or UnrecoverableError, and RateLimitedError to a delay
 * (jobs/run-job.ts).
 */
export type ErrorContext = Record<string, unknown>;

/** The reasons a provider failure carries (one table, with their meaning: lib/reasons.ts). */
export { PROVIDER_REASON_CODES, type ProviderReason };

export const OAUTH_ERRORS = [
  'invalid_grant',
  'invalid_client',
  'invalid_request',
  'unsupported_grant_type',
] as const;
export type OAuthErrorCode = (typeof OAUTH_ERRORS)[number];

/** Every code an AppError may carry. Adding one means giving it an HTTP status in api/errors.ts. */
export type ErrorCode =
  | 'bad_request'
  | 'validation_failed'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'internal_error'
  | 'service_unavailable'
  | `oauth_${OAuthErrorCode}`
  | ProviderReason;

export type AppErrorOptions = {
  retryable?: boolean;
  context?: ErrorContext;
  cause?: unknown;
};

export class AppError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly retryable: boolean;
  readonly context: ErrorContext;

  constructor(code: C, message: string, opts: AppErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.context = opts.context ?? {};
  }
}

/** One problem with one field: a description, or Cronofy's `{key, description}` pair. */
export type FieldProblem = string | { key: string; description: string };

/** Input from outside (CLI args, bodies, payloads) that cannot be used. Never retryable. */
export class ValidationError extends AppError<'validation_failed'> {
  constructor(
    message: string,
    readonly fields: Record<string, FieldProblem[]> = {},
    opts: AppErrorOptions = {},
  ) {
    super('validation_failed', message, { ...opts, retryable: false });
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends AppError<'not_found'> {
  constructor(what: string, id: string) {
    super('not_found', `${what} ${id} not found`, { context: { what, id } });
    this.name = 'NotFoundError';
  }
}

/**
 * The one "not now": our API limiter, the provider quota limiter or a provider itself (then the
 * subclass ProviderRateLimitedError, naming the provider) says retry after `retryAfterMs`. Never a
 * failure: a job is delayed without spending an attempt, the API answers 429 with Retry-After.
 */
export class RateLimitedError extends AppError<'rate_limited'> {
  declare readonly retryable: true;

  constructor(
    readonly retryAfterMs: number,
    message = 'rate limited',
    opts: AppErrorOptions = {},
  ) {
    super('rate_limited', message, { ...opts, retryable: true });
    this.name = 'RateLimitedError';
  }
}

/**
 * Something this request needs is down (the queue's Redis): nothing was done, try again after
 * `retryAfterMs`. The API answers 503 with Retry-After instead of holding the request.
 */
export class ServiceUnavailableError extends AppError<'service_unavailable'> {
  declare readonly retryable: true;

  constructor(
    readonly retryAfterMs: number,
    message: string,
    opts: AppErrorOptions = {},
  ) {
    super('service_unavailable', message, { ...opts, retryable: true });
    this.name = 'ServiceUnavailableError';
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

/** Missing, unknown, expired or revoked credentials (HTTP 401). */
export class UnauthorizedError extends AppError<'unauthorized'> {
  constructor(message = 'Valid credentials are required') {
    super('unauthorized', message);
    this.name = 'UnauthorizedError';
  }
}

/** Valid credentials without the right (scope, delegated scope, another Application's object) (HTTP 403). */
export class ForbiddenError extends AppError<'forbidden'> {
  constructor(message: string) {
    super('forbidden', message);
    this.name = 'ForbiddenError';
  }
}

/** A request that conflicts with current state (HTTP 409), e.g. retrying a run that is still going. */
export class ConflictError extends AppError<'conflict'> {
  constructor(message: string) {
    super('conflict', message);
    this.name = 'ConflictError';
  }
}

/** RFC 6749 §5.2 token endpoint errors: HTTP 400 `{"error": code}`. */
export class OAuthError extends AppError<`oauth_${OAuthErrorCode}`> {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description?: string,
  ) {
    super(`oauth_${error}`, description ?? error);
    this.name = 'OAuthError';
  }
}
