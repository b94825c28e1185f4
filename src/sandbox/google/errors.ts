import type { FastifyReply } from 'fastify';

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/**
 * Google's API error envelope: `{error:{code, message, errors:[{message, domain, reason}], status}}`
 * (providers.md §2.4); googleapis turns it into a GaxiosError with `status` and `code`.
 */
export function sendGoogleError(
  reply: FastifyReply,
  status: number,
  reason: string,
  message: string,
  opts: { domain?: string; retryAfterSecs?: number; extra?: Record<string, string> } = {},
): FastifyReply {
  if (opts.retryAfterSecs !== undefined) {
    reply.header('retry-after', String(opts.retryAfterSecs));
  }
  return reply
    .code(status)
    .header('content-type', 'application/json; charset=UTF-8')
    .send({
      error: {
        code: status,
        message,
        errors: [{ message, domain: opts.domain ?? 'global', reason, ...opts.extra }],
        status: STATUS_NAMES[status] ?? 'UNKNOWN',
      },
    });
}

/** The token endpoint's OAuth error body: `{error, error_description}`. */
export function sendGoogleTokenError(
  reply: FastifyReply,
  status: number,
  error: string,
  description: string,
  retryAfterSecs?: number,
): FastifyReply {
  if (retryAfterSecs !== undefined) {
    reply.header('retry-after', String(retryAfterSecs));
  }
  return reply
    .code(status)
    .header('content-type', 'application/json; charset=utf-8')
    .header('cache-control', 'no-cache, no-store, max-age=0, must-revalidate')
    .send({ error, error_description: description });
}

export const GOOGLE_ERRORS = {
  authError: (reply: FastifyReply) =>
    sendGoogleError(
      reply,
      401,
      'authError',
      'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
      { extra: { location: 'Authorization', locationType: 'header' } },
    ),
  forbidden: (reply: FastifyReply) =>
    sendGoogleError(reply, 403, 'forbidden', 'Not Authorized to access this resource/api'),
  insufficientScopes: (reply: FastifyReply) =>
    sendGoogleError(reply, 403, 'insufficientPermissions', 'Request had insufficient authentication scopes.'),
  notFound: (reply: FastifyReply) => sendGoogleError(reply, 404, 'notFound', 'Not Found'),
  badRequest: (reply: FastifyReply, message = 'Bad Request') =>
    sendGoogleError(reply, 400, 'badRequest', message),
  invalid: (reply: FastifyReply, message = 'Invalid Input') =>
    sendGoogleError(reply, 400, 'invalid', message),
  notACalendarUser: (reply: FastifyReply) =>
    sendGoogleError(reply, 403, 'notACalendarUser', 'The user must be signed up for Google Calendar.', {
      domain: 'calendar',
    }),
  quota: (reply: FastifyReply, status: 403 | 429, perUser: boolean, retryAfterSecs: number) =>
    perUser || status === 403
      ? sendGoogleError(reply, status, 'userRateLimitExceeded', 'User Rate Limit Exceeded', {
          domain: 'usageLimits',
          retryAfterSecs,
        })
      : sendGoogleError(reply, status, 'rateLimitExceeded', 'Rate Limit Exceeded', {
          domain: 'usageLimits',
          retryAfterSecs,
        }),
};
