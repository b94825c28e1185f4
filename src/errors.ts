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

/** One problem with one field: a description, or Cronofy's `{key, description}` pair. */
export type FieldProblem = string | { key: string; description: string };

/** Input from outside (CLI args, bodies, payloads) that cannot be used. Never retryable. */
export class ValidationError extends AppError {
  constructor(
    message: string,
    readonly fields: Record<string, FieldProblem[]> = {},
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

/** Missing, unknown, expired or revoked credentials (HTTP 401). */
export class UnauthorizedError extends AppError {
  constructor(message = 'Valid credentials are required') {
    super('unauthorized', message);
    this.name = 'UnauthorizedError';
  }
}

/** Valid credentials without the right (scope, delegated scope, another Application's object) (HTTP 403). */
export class ForbiddenError extends AppError {
  constructor(message: string) {
    super('forbidden', message);
    this.name = 'ForbiddenError';
  }
}

/** A request that conflicts with current state (HTTP 409), e.g. retrying a run that is still going. */
export class ConflictError extends AppError {
  constructor(message: string) {
    super('conflict', message);
    this.name = 'ConflictError';
  }
}

export const OAUTH_ERRORS = [
  'invalid_grant',
  'invalid_client',
  'invalid_request',
  'unsupported_grant_type',
] as const;
export type OAuthErrorCode = (typeof OAUTH_ERRORS)[number];

/** RFC 6749 §5.2 token endpoint errors: HTTP 400 `{"error": code}`. */
export class OAuthError extends AppError {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description?: string,
  ) {
    super(`oauth_${error}`, description ?? error);
    this.name = 'OAuthError';
  }
}
