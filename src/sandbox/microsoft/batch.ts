import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { mapLimit } from '../../lib/map-limit.js';
import type { SandboxState } from '../state.js';
import { sendGraphError } from './errors.js';

/** Graph's limits on a JSON batch: 20 requests, of which at most 4 run at a time (providers.md §4.5). */
export const GRAPH_BATCH_MAX_REQUESTS = 20;
const GRAPH_BATCH_PARALLEL = 4;
const METHODS = new Set(['GET', 'POST', 'PATCH', 'PUT', 'DELETE']);
/** The response headers a batch response carries per request, named as Graph writes them there. */
const KEPT_HEADERS: Record<string, string> = {
  'content-type': 'Content-Type',
  'retry-after': 'Retry-After',
  location: 'Location',
  'request-id': 'request-id',
  'client-request-id': 'client-request-id',
};

type SubRequest = {
  id: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
};
type SubResponse = { id: string; status: number; headers: Record<string, string>; body?: unknown };

/** Control characters (NUL included) are not in any URL Graph accepts. */
const hasControl = (text: string) =>
  [...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

/** The batch payload's requests, or why it is not one (Graph answers 400 `BadRequest`). */
function parseRequests(body: unknown): SubRequest[] | string {
  const requests = (body as { requests?: unknown } | null)?.requests;
  if (!Array.isArray(requests) || requests.length === 0) {
    return 'Invalid batch payload format.';
  }
  if (requests.length > GRAPH_BATCH_MAX_REQUESTS) {
    return `The number of batch requests exceeds the allowed limit of ${GRAPH_BATCH_MAX_REQUESTS}.`;
  }
  const ids = new Set<string>();
  const out: SubRequest[] = [];
  for (const r of requests as unknown[]) {
    const x = (r ?? {}) as Record<string, unknown>;
    if (typeof x.id !== 'string' || x.id === '' || ids.has(x.id)) {
      return 'Each request in a batch needs a unique, non-empty id.';
    }
    if (typeof x.method !== 'string' || !METHODS.has(x.method.toUpperCase())) {
      return `Invalid method for request ${x.id}.`;
    }
    if (typeof x.url !== 'string' || !x.url.startsWith('/') || x.url.startsWith('//') || hasControl(x.url)) {
      return `Request ${x.id}: url must be relative to the version, starting with '/'.`;
    }
    if (x.dependsOn !== undefined) {
      return `Request ${x.id}: dependsOn is not supported by the sandbox.`;
    }
    const headers = x.headers;
    if (
      headers !== undefined &&
      (typeof headers !== 'object' ||
        headers === null ||
        Object.values(headers).some((v) => typeof v !== 'string'))
    ) {
      return `Request ${x.id}: headers must be an object of strings.`;
    }
    ids.add(x.id);
    out.push({
      id: x.id,
      method: x.method.toUpperCase(),
      // Relative to the version; graph-client's BatchRequestContent keeps the version in the path.
      url: x.url.startsWith('/v1.0/') ? x.url.slice('/v1.0'.length) : x.url,
      ...(headers ? { headers: headers as Record<string, string> } : {}),
      ...(x.body === undefined ? {} : { body: x.body }),
    });
  }
  return out;
}

/**
 * `POST /v1.0/$batch`: each request runs through the sandbox's own Graph routes (so it is counted,
 * throttled, delayed and faulted like a request of its own), with the batch's Authorization, at most
 * four at a time; the answer is 200 with one response per request, whatever each one's status. A
 * request still unanswered after the fault timeout answers 504, as Graph does for a sub-request.
 */
export function registerGraphBatch(app: FastifyInstance, state: SandboxState): void {
  app.post(
    '/v1.0/$batch',
    { config: { kind: 'graph', envelope: true } },
    async (req: FastifyRequest, reply: FastifyReply) => {
      const requests = parseRequests(req.body);
      if (typeof requests === 'string') {
        return sendGraphError(req, reply, 400, 'BadRequest', requests);
      }
      state.counters.batch(requests.length);
      const responses = await mapLimit(requests, GRAPH_BATCH_PARALLEL, (r) => run(app, state, req, r));
      return reply.header('content-type', 'application/json').send({ responses });
    },
  );
}

/** A request of the batch answered by the batch itself, in Graph's error envelope. */
const failed = (id: string, status: number, code: string, message: string): SubResponse => ({
  id,
  status,
  headers: { 'Content-Type': 'application/json' },
  body: { error: { code, message } },
});

async function run(
  app: FastifyInstance,
  state: SandboxState,
  outer: FastifyRequest,
  r: SubRequest,
): Promise<SubResponse> {
  const headers: Record<string, string> = { ...r.headers };
  const auth = outer.headers.authorization;
  if (auth && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
    headers.authorization = auth;
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), state.faults.timeoutMs + 1_000);
  });
  try {
    const res = await Promise.race([
      app.inject({
        method: r.method as 'GET',
        url: `/v1.0${r.url}`,
        headers,
        ...(r.body === undefined ? {} : { payload: r.body as object }),
      }),
      timedOut,
    ]).catch(() => null);
    if (res === null) {
      return failed(r.id, 400, 'BadRequest', 'The request could not be read.');
    }
    if (!res) {
      return failed(r.id, 504, 'GatewayTimeout', 'The request timed out.');
    }
    const kept: Record<string, string> = {};
    for (const [h, name] of Object.entries(KEPT_HEADERS)) {
      const v = res.headers[h];
      if (v !== undefined) {
        kept[name] = String(v);
      }
    }
    let body: unknown;
    if (res.payload !== '') {
      try {
        body = JSON.parse(res.payload);
      } catch {
        body = res.payload;
      }
    }
    return { id: r.id, status: res.statusCode, headers: kept, ...(body === undefined ? {} : { body }) };
  } finally {
    clearTimeout(timer);
  }
}
