import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GOOGLE_ERRORS, sendGoogleError, sendGoogleTokenError } from './google/errors.js';
import type { RouteKind } from './http.js';
import { GRAPH_ERRORS, sendAadError, sendGraphError } from './microsoft/errors.js';
import type { SandboxState } from './state.js';

type Fault = '429' | '500' | '503' | 'timeout';

function roll(state: SandboxState): Fault | undefined {
  const f = state.faults;
  const r = state.rng.next();
  let edge = f.rateTimeout;
  if (r < edge) {
    return 'timeout';
  }
  for (const [fault, rate] of [
    ['429', f.rate429],
    ['500', f.rate500],
    ['503', f.rate503],
  ] as const) {
    edge += rate;
    if (r < edge) {
      return fault;
    }
  }
  return undefined;
}

function sendFault(
  kind: RouteKind,
  fault: Exclude<Fault, 'timeout'>,
  req: FastifyRequest,
  reply: FastifyReply,
  retryAfterSecs: number,
): FastifyReply {
  const status = Number(fault);
  const retry = fault === '500' ? undefined : retryAfterSecs;
  switch (kind) {
    case 'google-api':
      return fault === '429'
        ? GOOGLE_ERRORS.quota(reply, 429, false, retryAfterSecs)
        : sendGoogleError(
            reply,
            status,
            'backendError',
            fault === '500' ? 'Backend Error' : 'The service is currently unavailable.',
            {
              ...(retry === undefined ? {} : { retryAfterSecs: retry }),
            },
          );
    case 'google-token':
      return sendGoogleTokenError(
        reply,
        status,
        fault === '429'
          ? 'rate_limit_exceeded'
          : fault === '500'
            ? 'internal_failure'
            : 'temporarily_unavailable',
        fault === '429' ? 'Rate limit exceeded.' : 'Backend Error',
        retry,
      );
    case 'microsoft-token':
      if (retry !== undefined) {
        reply.header('retry-after', String(retry));
      }
      return fault === '429'
        ? sendAadError(
            reply,
            429,
            'temporarily_unavailable',
            50196,
            'The server terminated an operation because it encountered a client request loop. Please contact your app vendor.',
          )
        : sendAadError(
            reply,
            status,
            fault === '500' ? 'server_error' : 'temporarily_unavailable',
            90033,
            'A transient error has occurred. Please try again.',
          );
    default:
      return fault === '429'
        ? GRAPH_ERRORS.throttled(req, reply, retryAfterSecs)
        : fault === '500'
          ? sendGraphError(req, reply, 500, 'generalException', 'General exception while processing.')
          : sendGraphError(
              req,
              reply,
              503,
              'ServiceNotAvailable',
              'Service is temporarily unavailable. Please retry.',
              {
                retryAfterSecs,
              },
            );
  }
}

/**
 * The provider-route pre-handler: Graph mailbox concurrency (counted over the whole request, latency
 * included), then latency, then one roll for an injected 429/500/503/timeout.
 */
export function createFaultHook(state: SandboxState, held: Set<NodeJS.Timeout>) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const { kind, mailboxParam, envelope } = req.routeOptions.config;
    if (!kind || kind === 'control' || envelope) {
      return undefined;
    }
    if (mailboxParam && state.microsoft) {
      const raw = (req.params as Record<string, string | undefined>)[mailboxParam] ?? '';
      const found = state.microsoft.org.findMailbox(raw);
      const key = (found ? ('user' in found ? found.user.email : found.room.email) : raw).toLowerCase();
      const admitted = state.quotaGuard.enterMailbox(key);
      reply.raw.once('close', () => state.quotaGuard.leaveMailbox(key));
      if (!admitted) {
        return GRAPH_ERRORS.concurrency(req, reply, state.faults.retryAfterSecs);
      }
    }
    const f = state.faults;
    if (!f.tokenEndpoints && (kind === 'google-token' || kind === 'microsoft-token')) {
      return undefined;
    }
    const delay = f.latencyMs + (f.jitterMs > 0 ? state.rng.next() * f.jitterMs : 0);
    if (delay > 0) {
      await sleep(delay);
    }
    const fault = roll(state);
    if (!fault) {
      return undefined;
    }
    state.counters.fault(fault);
    if (fault === 'timeout') {
      // Hold the request unanswered, then drop the connection: the client sees a timeout or a reset.
      reply.hijack();
      const timer = setTimeout(() => {
        held.delete(timer);
        req.raw.socket?.destroy();
      }, f.timeoutMs);
      held.add(timer);
      return reply;
    }
    return sendFault(kind, fault, req, reply, f.retryAfterSecs);
  };
}
