import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  type AdminAction,
  auditEventsPage,
  auditQuerySchema,
  recordAdminAction,
} from '../../services/audit.js';
import type { AppContext } from '../../services/context.js';
import { esc } from '../pages/html.js';
import { htmlPage, plainText } from '../responses.js';
import { adminCredential } from './auth.js';
import { blankOr, filterParams, withoutBlanks } from './form-query.js';
import { type Cell, dateCell, layout, link, table } from './html.js';
import { adminErrorHandler } from './routes.js';

/**
 * The audit log on /admin (every Application's events and the system's, newest first, filtered and
 * cursor-paged), and the hook that audits every dashboard action: each POST under /admin — the
 * dashboard's forms and bull-board's buttons alike — once answered.
 */

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The notice a dashboard form redirects back with (`?notice=retried:12`), if any. */
function noticeOf(reply: FastifyReply): { outcome?: string; count?: number } {
  const location = reply.getHeader('location');
  if (typeof location !== 'string') {
    return {};
  }
  const notice = new URL(location, 'http://x').searchParams.get('notice');
  if (!notice) {
    return {};
  }
  const [outcome, n] = notice.split(':');
  return { ...(outcome ? { outcome } : {}), ...(n && /^\d+$/.test(n) ? { count: Number(n) } : {}) };
}

/** What a POST to `route` did, in the audit log's words. */
export function describeAdminAction(req: FastifyRequest, reply: FastifyReply): AdminAction {
  const route = req.routeOptions.url ?? req.url.split('?')[0] ?? '';
  const params = (req.params ?? {}) as Record<string, string | undefined>;
  const cred = adminCredential(req);
  const data: Record<string, unknown> = {
    route,
    status: reply.statusCode,
    ip: req.ip,
    ...(cred?.scheme === 'basic' ? { via: 'browser' } : { via: 'bearer' }),
    ...noticeOf(reply),
  };
  const id = params.id ?? '';
  switch (route) {
    case '/admin/runs/:id/retry':
      return { action: 'run.retried', subjectType: 'provisioning_run', subjectId: id, data };
    case '/admin/runs/:id/cancel':
      return { action: 'run.cancelled', subjectType: 'provisioning_run', subjectId: id, data };
    case '/admin/deliveries/:id/retry':
      return { action: 'delivery.retried', subjectType: 'delivery', subjectId: id, data };
    case '/admin/deliveries/retry-all':
      return { action: 'deliveries.retried', subjectType: 'delivery', subjectId: 'all', data };
  }
  if (route.startsWith('/admin/queues')) {
    // bull-board: retry, promote, clean, pause… of a queue or one of its jobs.
    const path = req.url.split('?')[0] ?? route;
    return {
      action: `queue.${(path.split('/').pop() ?? 'action').replace(/[^a-z0-9_-]/gi, '').slice(0, 40)}`,
      subjectType: 'queue',
      subjectId: (params.queueName ?? path).slice(0, 200),
      data: { ...data, path: path.slice(0, 300), ...(params.jobId ? { job_id: params.jobId } : {}) },
    };
  }
  return { action: 'admin.action', subjectType: 'dashboard', subjectId: route.slice(0, 200), data };
}

/**
 * An `onSend` hook for the admin scope: every state-changing request that got past ADMIN_TOKEN
 * and was answered 2xx/3xx is recorded, forms refused for a stale token included (their redirect
 * says `outcome: "bad-form"`). Recorded before the answer goes out, so an action the caller saw
 * answered is in the log, and back-to-back actions are logged in the order they were made. A failure
 * to record is logged; the action already happened.
 */
export function auditAdminActions(app: AppContext) {
  return async <P>(req: FastifyRequest, reply: FastifyReply, payload: P): Promise<P> => {
    // Refused before doing anything (no token, cross-site, bad input): nothing to audit.
    if (SAFE.has(req.method) || reply.statusCode >= 400) {
      return payload;
    }
    try {
      await recordAdminAction(app, describeAdminAction(req, reply));
    } catch (err) {
      req.log.warn({ err }, 'dashboard action not audited');
    }
    return payload;
  };
}

const s = auditQuerySchema.shape;
export const auditPageQuery = z.object({
  type: blankOr(s.type.unwrap()),
  object_type: blankOr(s.object_type.unwrap()),
  object_id: blankOr(s.object_id.unwrap()),
  actor: blankOr(s.actor.unwrap()),
  from: blankOr(s.from.unwrap()),
  to: blankOr(s.to.unwrap()),
  application: blankOr(z.string().regex(/^app_[a-z2-7]{26}$/, 'must be an Application id (app_…)')),
  cursor: s.cursor,
});

function detail(data: Record<string, unknown>): string {
  const text = JSON.stringify(data);
  return text === '{}' ? '' : text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

function objectCell(type: string, id: string): Cell {
  const href =
    type === 'provisioning_run'
      ? `/admin/runs/${id}`
      : type === 'service_account'
        ? `/admin/service-accounts/${id}`
        : undefined;
  return { html: `${esc(type)} ${href ? link(href, id) : `<code>${esc(id)}</code>`}`, className: 'mono' };
}

export const auditPageRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    server.setErrorHandler(adminErrorHandler);
    server.get(
      '/admin/audit',
      {
        schema: {
          tags: ['admin'],
          summary: 'The audit log: who did what, when',
          querystring: auditPageQuery,
          response: {
            200: htmlPage('The audit log'),
            401: plainText('ADMIN_TOKEN is required (Bearer, or basic auth with the token as password)'),
            422: htmlPage('A filter or id that is not valid (the page says which)'),
          },
        },
      },
      async (req, reply) => {
        const q = withoutBlanks(req.query);
        const page = await auditEventsPage(app, q.application, { ...q, limit: 100 });
        const field = (name: string, label: string, value: string | undefined, hint: string) =>
          `<label>${esc(label)} <input name="${name}" value="${esc(value ?? '')}" placeholder="${esc(hint)}"></label>`;
        const filters = `<form method="get" action="/admin/audit" class="filters">
${field('type', 'Type', q.type, 'run.retried')} ${field('object_id', 'Object id', q.object_id, 'ser_…, run_…')}
${field('actor', 'Who', q.actor, 'admin, api:…')} ${field('application', 'Application', q.application, 'app_…')} <button type="submit">Filter</button> ${link('/admin/audit', 'clear')}</form>`;
        const rows = page.events.map((e): Cell[] => [
          dateCell(e.createdAt),
          { html: `<code>${esc(e.actor)}</code>` },
          { html: `<code>${esc(e.action)}</code>` },
          objectCell(e.subjectType, e.subjectId),
          { html: esc(e.applicationId ?? '—'), className: 'mono' },
          { html: esc(detail(e.data)), className: 'wrap mono' },
        ]);
        const next = page.nextCursor
          ? `<p>${link(`/admin/audit?${filterParams(q, { cursor: page.nextCursor })}`, 'Older events →')}</p>`
          : '';
        const body = `${filters}
${table(['When', 'Who', 'What', 'Object', 'Application', 'Details'], rows, { empty: 'No audit events match.' })}${next}`;
        return reply.type('text/html; charset=utf-8').send(layout({ title: 'Audit log' }, body));
      },
    );
  };
