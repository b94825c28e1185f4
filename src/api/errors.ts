import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, type FieldProblem, OAuthError, RateLimitedError, ValidationError } from '../errors.js';
import { isProviderError } from '../providers/types.js';
import { REASON_DESCRIPTIONS } from '../services/reasons.js';

/**
 * The one place errors become HTTP responses (DESIGN §6):
 * - token endpoints: 400 `{"error": "invalid_grant" | …}`; 429 `{"error": "rate_limited"}`
 * - bad input: 422 `{"errors": {"field": [{"key": "errors.…", "description": "…"}]}}`
 * - everything else: `{"error": {"code", "message", "requestId"}}` with the status from `codeToStatus`.
 * Only 5xx and unknown errors are logged as errors.
 */
export function codeToStatus(code: string): number {
  switch (code) {
    case 'validation_failed':
      return 422;
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'rate_limited':
      return 429;
    case 'provider_unavailable':
      return 503;
    default:
      return 500;
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
function tokenEndpointRateLimited(reply: FastifyReply, description: string): FastifyReply {
  return reply
    .code(429)
    .header('cache-control', 'no-store')
    .send({ error: 'rate_limited', error_description: description });
}

export function errorHandler(
  error: FastifyError | Error,
  req: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const requestId = req.id;
  if (hasZodFastifySchemaValidationErrors(error)) {
    if (isTokenEndpoint(req)) {
      return reply.code(400).send({ error: 'invalid_request', error_description: error.message });
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
    return reply.code(422).send({ errors: fields });
  }
  if (error instanceof OAuthError) {
    return reply
      .code(400)
      .header('cache-control', 'no-store')
      .send({ error: error.error, ...(error.description ? { error_description: error.description } : {}) });
  }
  if (error instanceof ValidationError) {
    return reply.code(422).send({ errors: toProblems(error.fields), message: error.message });
  }
  if (isProviderError(error) && !error.retryable) {
    return reply.code(422).send({
      errors: {
        credentials: [
          {
            key: `errors.${error.reason}`,
            description: `${REASON_DESCRIPTIONS[error.reason]}: ${error.message}`,
          },
        ],
      },
    });
  }
  if (error instanceof RateLimitedError || (isProviderError(error) && error.retryAfterMs !== undefined)) {
    const ms = error instanceof RateLimitedError ? error.retryAfterMs : (error.retryAfterMs ?? 1000);
    reply.header('retry-after', String(Math.max(1, Math.ceil(ms / 1000))));
  }
  if (error instanceof RateLimitedError && isTokenEndpoint(req)) {
    return tokenEndpointRateLimited(reply, error.message);
  }
  if (error instanceof AppError) {
    const status = codeToStatus(error.code);
    if (status >= 500) {
      req.log.error({ err: error }, 'request failed');
    }
    if (status === 401) {
      reply.header('www-authenticate', 'Bearer');
    }
    return reply.code(status).send({ error: { code: error.code, message: error.message, requestId } });
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
      return reply.code(400).send({ error: 'invalid_request', error_description: error.message });
    }
    return reply.code(status).send({
      error: { code: (error as FastifyError).code ?? 'bad_request', message: error.message, requestId },
    });
  }
  req.log.error({ err: error }, 'unhandled error');
  return reply
    .code(500)
    .send({ error: { code: 'internal_error', message: 'Internal server error', requestId } });
}
