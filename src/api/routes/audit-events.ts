import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditEventJson, auditEventsPage, auditQuerySchema, recordAuditEvent } from '../../services/audit.js';
import type { AppContext } from '../../services/context.js';
import { authenticate, callerOf, maybeCallerOf } from '../auth.js';
import { jsonErrors } from '../responses.js';

const event = z.looseObject({
  id: z.string().describe('aud_…'),
  type: z.string().describe('what was done, e.g. service_account.created, run.retried'),
  actor: z.string().describe('who: api:<client_id>, admin (the dashboard), cli, directory-sync, …'),
  object: z.object({ type: z.string(), id: z.string() }).describe('what it was done to'),
  data: z.record(z.string(), z.unknown()).describe('details (never a secret)'),
  created_at: z.string(),
});

/** `GET /v1/audit_events` (DESIGN §6): who did what to this Application's objects, newest first. */
export const auditEventRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    server.get(
      '/v1/audit_events',
      {
        preParsing: authenticate(app, 'application'),
        schema: {
          querystring: auditQuerySchema,
          tags: ['audit'],
          summary: "This Application's audit events, newest first, cursor-paged",
          description:
            'Filters: `type` (e.g. `service_account.revoked`), `object_type` and `object_id`, `actor`, ' +
            '`from` (inclusive) and `to` (exclusive) as ISO 8601 times. `next_cursor` is null on the ' +
            "last page. Only the calling Application's events are listed; another Application's " +
            'objects match nothing.',
          response: {
            200: z.object({ audit_events: z.array(event), next_cursor: z.string().nullable() }),
            ...jsonErrors,
          },
        },
      },
      async (req) => {
        const application = callerOf(req, 'application');
        const page = await auditEventsPage(app, application.id, req.query);
        return { audit_events: page.events.map(auditEventJson), next_cursor: page.nextCursor };
      },
    );
  };

const RUN_ACTIONS: Record<string, string> = {
  '/v1/provisioning_runs/:id/retry': 'run.retried',
  '/v1/provisioning_runs/:id/cancel': 'run.cancelled',
};

/**
 * An `onSend` hook (registered on the whole server): a run retried or cancelled through the API is
 * audited once accepted (202), with the Service Account whose token asked as the actor — before the
 * answer goes out, so the caller's next read of the audit log has it, in the order of its actions.
 */
export function auditApiRunActions(app: AppContext) {
  return async <P>(req: FastifyRequest, reply: FastifyReply, payload: P): Promise<P> => {
    const action = req.method === 'POST' ? RUN_ACTIONS[req.routeOptions.url ?? ''] : undefined;
    const caller = action && reply.statusCode === 202 ? maybeCallerOf(req, 'service_account') : undefined;
    if (!action || !caller) {
      return payload;
    }
    try {
      await recordAuditEvent(app, {
        applicationId: caller.serviceAccount.applicationId,
        actor: `service_account:${caller.serviceAccount.id}`,
        action,
        subjectType: 'provisioning_run',
        subjectId: (req.params as { id?: string }).id ?? '',
        data: { via: 'api', ip: req.ip },
      });
    } catch (err) {
      req.log.warn({ err }, 'run action not audited');
    }
    return payload;
  };
}
