import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import postgres from 'postgres';
import {
  AppError,
  type ErrorCode,
  type FieldProblem,
  isAppError,
  OAuthError,
  RateLimitedError,
  ServiceUnavailableError,
  ValidationError,
} from '../errors.js';

/**
 * The one place errors become HTTP responses (DESIGN §6):
 * - token endpoints: 400 `{"error": "invalid_grant" | …}` (refused input: `invalid_request`); 429
 *   `{"error": "rate_limited"}`
 * - bad input: 422 `{"errors": {"field": [{"key": "errors.…", "description": "…"}]}}`; an undecodable
 *   URL or a value Postgres refuses to store: 400 `bad_request`
 * - everything else: `{"error": {"code", "message", "requestId"}}` with the status from `codeToStatus`.
 * - server-rendered pages: the same statuses and headers, their own HTML page (`pageErrorHandler`).
 * Only 5xx and unknown errors are logged as errors.
 */
export function codeToStatus(code: ErrorCode): number {
  switch (code) {
    case 'bad_request':
    case 'oauth_invalid_grant':
    case 'oauth_invalid_client':
    case 'oauth_invalid_request':
    case 'oauth_unsupported_grant_type':
      return 400;
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'validation_failed':
      return 422;
    case 'rate_limited':
      return 429;
    case 'internal_error':
      return 500;
    // A provider's final refusal: the service that expects one (a credential check) turns it into a
    // ValidationError; one that reaches here was not expected, and is logged as ours.
    case 'user_not_found':
    case 'user_suspended':
    case 'mailbox_not_enabled':
    case 'guest_user':
    case 'delegation_not_granted':
    case 'consent_revoked':
    case 'invalid_credentials':
    case 'insufficient_permissions':
      return 502;
    case 'provider_unavailable':
    case 'service_unavailable':
      return 503;
    default: {
      const unmapped: never = code;
      throw new Error(`No HTTP status for error code ${String(unmapped)}`);
    }
  }
}

type Problems = Record<string, { key: string; description: string }[]>;

function toProblems(fields: Record<string, FieldProblem[]>): Problems {
  const out: Problems = {};
  for (const [field, list] of Object.entries(fields)) {
    out[field] = list.map((p) => (typeof p === 'string' ? { key: 'errors.invalid', description: p } : p));
  }
  return out;
}

/** Routes whose errors use RFC 6749's shape. */
const isTokenEndpoint = (req: FastifyRequest) => req.url.startsWith('/oauth/token');

function fieldName(
  instancePath: string,
  params: Record<string, unknown>,
  context: string | undefined,
): string {
  const path = instancePath.replace(/^\//, '').replaceAll('/', '.');
  const missing = typeof params.missingProperty === 'string' ? params.missingProperty : undefined;
  return path || missing || context || 'body';
}

/** RFC 6749 has no rate-limit error; this is its shape with the status clients retry (429, never 400). */
function tokenEndpointRateLimited(reply: FastifyReply, description: string): Rendered {
  reply.header('cache-control', 'no-store');
  return {
    status: 429,
    body: { error: 'rate_limited', error_description: description },
    message: description,
  };
}

/**
 * Postgres refusing a value as input (text it cannot store, a malformed literal, a value too long for
 * its index): the request's fault, not ours. The last line of defence behind input-guard.ts and the
 * route schemas, so such a request is a 400, never a 500. Drizzle wraps the driver's error in `cause`.
 */
const POSTGRES_INPUT_ERRORS = new Set([
  '22021', // character_not_in_repertoire: NUL in text ("invalid byte sequence for encoding UTF8: 0x00")
  '22P05', // untranslatable_character: \u0000 in jsonb ("unsupported Unicode escape sequence")
  '22P02', // invalid_text_representation: a malformed uuid, number or json literal (unpaired surrogates)
  '22001', // string_data_right_truncation: longer than the column allows
  '54000', // program_limit_exceeded: e.g. a value too long for its index
]);

function postgresInputError(error: unknown): postgres.PostgresError | undefined {
  let cause: unknown = error;
  for (let depth = 0; depth < 5 && cause instanceof Error; depth += 1) {
    if (cause instanceof postgres.PostgresError) {
      return POSTGRES_INPUT_ERRORS.has(cause.code) ? cause : undefined;
    }
    cause = cause.cause;
  }
  return undefined;
}

/** An error as HTTP: its status and JSON body (headers already set on `reply`), and one line for pages. */
type Rendered = { status: number; body: unknown; message: string };

function render(error: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): Rendered {
  const requestId = req.id;
  const appError = (code: ErrorCode, message: string): Rendered => ({
    status: codeToStatus(code),
    body: { error: { code, message, requestId } },
    message,
  });
  const tokenRequestError = (description: string): Rendered => {
    reply.header('cache-control', 'no-store');
    return {
      status: 400,
      body: { error: 'invalid_request', error_description: description },
      message: description,
    };
  };
  if (hasZodFastifySchemaValidationErrors(error)) {
    if (isTokenEndpoint(req)) {
      return tokenRequestError(error.message);
    }
    const fields: Problems = {};
    for (const v of error.validation) {
      const name = fieldName(v.instancePath, v.params as Record<string, unknown>, error.validationContext);
      const key =
        v.keyword === 'invalid_type' && /received undefined/.test(v.message ?? '')
          ? 'errors.required'
          : 'errors.invalid';
      const list = fields[name] ?? [];
      list.push({ key, description: v.message ?? 'is invalid' });
      fields[name] = list;
    }
    return { status: 422, body: { errors: fields }, message: error.message };
  }
  if (error instanceof OAuthError) {
    reply.header('cache-control', 'no-store');
    return {
      status: 400,
      body: { error: error.error, ...(error.description ? { error_description: error.description } : {}) },
      message: error.description ?? error.error,
    };
  }
  if (error instanceof ValidationError) {
    if (isTokenEndpoint(req)) {
      return tokenRequestError(error.message);
    }
    return {
      status: 422,
      body: { errors: toProblems(error.fields), message: error.message },
      message: error.message,
    };
  }
  if (error instanceof RateLimitedError) {
    reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))));
    if (isTokenEndpoint(req)) {
      return tokenEndpointRateLimited(reply, error.message);
    }
  }
  if (error instanceof ServiceUnavailableError) {
    reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))));
  }
  if (isAppError(error)) {
    const rendered = appError(error.code, error.message);
    if (rendered.status >= 500) {
      req.log.error({ err: error }, 'request failed');
    }
    if (rendered.status === 401) {
      reply.header('www-authenticate', 'Bearer');
    }
    return rendered;
  }
  // Fastify's own client errors (bad JSON, wrong content type, body too large): keep their 4xx.
  const status = (error as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) {
    if (status === 429 && isTokenEndpoint(req)) {
      if (!reply.hasHeader('retry-after')) {
        reply.header('retry-after', '1');
      }
      return tokenEndpointRateLimited(reply, error.message);
    }
    if (isTokenEndpoint(req)) {
      return tokenRequestError(error.message);
    }
    const code = (error as FastifyError).code ?? 'bad_request';
    return { status, body: { error: { code, message: error.message, requestId } }, message: error.message };
  }
  const refused = postgresInputError(error);
  if (refused) {
    // Logged: input-guard.ts or a schema should have refused this before it reached SQL.
    req.log.warn({ err: error, pgCode: refused.code }, 'Postgres refused request input');
    const message = 'The request holds a value that cannot be stored';
    return isTokenEndpoint(req) ? tokenRequestError(message) : appError('bad_request', message);
  }
  req.log.error({ err: error }, 'unhandled error');
  return appError('internal_error', 'Internal server error');
}

export function errorHandler(
  error: FastifyError | Error,
  req: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const { status, body } = render(error, req, reply);
  return reply.code(status).send(body);
}

/** Sends a server-rendered page's answer to an error: the status and a one-line message for the visitor. */
export type ErrorPage = (reply: FastifyReply, status: number, message: string) => FastifyReply;

/**
 * The error handler of server-rendered pages (the authorize page, /relink, /admin): the same status
 * and headers as `errorHandler`, the body an HTML page of the route's own.
 */
export function pageErrorHandler(sendPage: ErrorPage) {
  return (error: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const { status, message } = render(error, req, reply);
    return sendPage(reply, status, message);
  };
}

/** Fastify's router refusing a URL before any route runs: the URL cannot be decoded (invalid UTF-8). */
export const badUrlError = (cause: unknown) =>
  new AppError('bad_request', 'The URL is not valid: it holds percent-encoded bytes that are not UTF-8', {
    cause,
  });
