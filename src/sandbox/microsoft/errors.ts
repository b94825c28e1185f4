import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

function graphDate(): string {
  return new Date().toISOString().slice(0, 19);
}

/**
 * Graph's error envelope: `{error:{code, message, innerError:{date, request-id, client-request-id}}}`
 * (providers.md §4.4); graph-client turns it into a GraphError with `statusCode` and `code`.
 */
export function sendGraphError(
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  opts: { retryAfterSecs?: number; inner?: Record<string, string> } = {},
): FastifyReply {
  const requestId = randomUUID();
  const clientRequestId = String(req.headers['client-request-id'] ?? requestId);
  if (opts.retryAfterSecs !== undefined) {
    reply.header('retry-after', String(opts.retryAfterSecs));
  }
  return reply
    .code(status)
    .header('request-id', requestId)
    .header('client-request-id', clientRequestId)
    .header('content-type', 'application/json')
    .send({
      error: {
        code,
        message,
        innerError: {
          ...opts.inner,
          date: graphDate(),
          'request-id': requestId,
          'client-request-id': clientRequestId,
        },
      },
    });
}

export const GRAPH_ERRORS = {
  throttled: (req: FastifyRequest, reply: FastifyReply, retryAfterSecs: number) =>
    sendGraphError(req, reply, 429, 'TooManyRequests', 'Please retry again later.', {
      retryAfterSecs,
      inner: { code: '429', status: '429', message: 'Please retry after' },
    }),
  concurrency: (req: FastifyRequest, reply: FastifyReply, retryAfterSecs: number) =>
    sendGraphError(
      req,
      reply,
      429,
      'ApplicationThrottled',
      'Application is over its MailboxConcurrency limit.',
      {
        retryAfterSecs,
      },
    ),
  invalidUser: (req: FastifyRequest, reply: FastifyReply, id: string) =>
    sendGraphError(req, reply, 404, 'ErrorInvalidUser', `The requested user '${id}' is invalid.`),
  noMailbox: (req: FastifyRequest, reply: FastifyReply) =>
    sendGraphError(
      req,
      reply,
      404,
      'MailboxNotEnabledForRESTAPI',
      'The mailbox is either inactive, soft-deleted, or is hosted on-premise.',
    ),
  accessPolicy: (req: FastifyRequest, reply: FastifyReply) =>
    sendGraphError(
      req,
      reply,
      403,
      'ErrorAccessDenied',
      'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.',
    ),
  accessDenied: (req: FastifyRequest, reply: FastifyReply) =>
    sendGraphError(
      req,
      reply,
      403,
      'ErrorAccessDenied',
      'Access is denied. Check credentials and try again.',
    ),
  directoryDenied: (req: FastifyRequest, reply: FastifyReply) =>
    sendGraphError(
      req,
      reply,
      403,
      'Authorization_RequestDenied',
      'Insufficient privileges to complete the operation.',
    ),
  resourceNotFound: (req: FastifyRequest, reply: FastifyReply, id: string) =>
    sendGraphError(
      req,
      reply,
      404,
      'Request_ResourceNotFound',
      `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
    ),
  itemNotFound: (req: FastifyRequest, reply: FastifyReply) =>
    sendGraphError(req, reply, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.'),
  badPageToken: (req: FastifyRequest, reply: FastifyReply) =>
    sendGraphError(
      req,
      reply,
      400,
      'Directory_ExpiredPageToken',
      'The specified page token value has expired and can no longer be included in your request.',
    ),
  badTop: (req: FastifyRequest, reply: FastifyReply, top: string, max: number) =>
    sendGraphError(
      req,
      reply,
      400,
      'Request_UnsupportedQuery',
      `Invalid page size specified: '${top}'. Must be between 1 and ${max} inclusive.`,
    ),
};

/** The Entra token endpoint's error body (providers.md §3.1). */
export function sendAadError(
  reply: FastifyReply,
  status: number,
  error: string,
  code: number,
  text: string,
  extra: Record<string, string> = {},
): FastifyReply {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const now = new Date();
  const stamp = `${now.toISOString().slice(0, 10)} ${now.toISOString().slice(11, 19)}Z`;
  return reply
    .code(status)
    .header('cache-control', 'no-store, no-cache')
    .header('content-type', 'application/json; charset=utf-8')
    .send({
      error,
      error_description: `AADSTS${code}: ${text}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${stamp}`,
      error_codes: [code],
      timestamp: stamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
      ...extra,
    });
}
