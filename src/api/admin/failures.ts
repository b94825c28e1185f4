import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../services/context.js';
import {
  type FailedItemsQuery,
  failedItemsCsv,
  failedItemsPage,
  failedItemsQuerySchema,
} from '../../services/failed-items.js';
import { esc } from '../pages/html.js';
import { htmlPage, plainText } from '../responses.js';
import { blankOr, filterParams, withoutBlanks } from './form-query.js';
import { type Cell, dateCell, layout, link, num, table } from './html.js';
import { adminErrorHandler } from './routes.js';

/**
 * Failed run items on /admin: across runs or in one, searched by email (any part) and reason,
 * 100 a page with "next page" links (a cursor, so page 500 is as quick as page 1), and every match
 * as CSV (spreadsheet-safe: see lib/csv.ts).
 */

const s = failedItemsQuerySchema.shape;
const pageQuery = z.object({
  run: blankOr(s.run.unwrap()),
  email: s.email,
  reason: blankOr(s.reason.unwrap()),
  cursor: blankOr(s.cursor.unwrap()),
  limit: s.limit,
});
const csvQuery = pageQuery.omit({ cursor: true, limit: true });
const runParams = z.object({ id: z.string().regex(/^run_[a-z2-7]{26}$/, 'must be a run id (run_…)') });

const denied = {
  401: plainText('ADMIN_TOKEN is required (Bearer, or basic auth with the token as password)'),
  422: htmlPage('A filter that is not valid (the page says which)'),
};
const csvAnswer = {
  description: 'Every matching failed item, one CSV row each (RFC 4180, CRLF, header row)',
  content: { 'text/csv': { schema: z.string() } },
};

function sendCsv(app: AppContext, reply: FastifyReply, q: Omit<FailedItemsQuery, 'cursor' | 'limit'>) {
  const name = `failures${q.run ? `-${q.run}` : ''}.csv`;
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${name}"`)
    .send(Readable.from(failedItemsCsv(app, q)));
}

export const failuresPageRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    server.setErrorHandler(adminErrorHandler);
    server.get(
      '/admin/failures',
      {
        schema: {
          tags: ['admin'],
          summary: 'Failed run items: search by email and reason, cursor-paged',
          querystring: pageQuery,
          response: { 200: htmlPage('Failed run items'), ...denied },
        },
      },
      async (req, reply) => {
        const q = withoutBlanks(req.query);
        const page = await failedItemsPage(app, q);
        const filters = `<form method="get" action="/admin/failures" class="filters">
<label>Email contains <input name="email" value="${esc(q.email ?? '')}" placeholder="jane@"></label>
<label>Reason <input name="reason" value="${esc(q.reason ?? '')}" placeholder="mailbox_not_found"></label>
<label>Run <input name="run" value="${esc(q.run ?? '')}" placeholder="run_…"></label>
<button type="submit">Search</button> ${link('/admin/failures', 'clear')}</form>`;
        const rows = page.items.map((i): Cell[] => [
          i.email,
          i.kind,
          { html: `<code>${esc(i.errorKey ?? 'unknown')}</code>` },
          { html: esc(i.errorDescription ?? ''), className: 'wrap' },
          String(i.attempts),
          dateCell(i.updatedAt),
          { html: link(`/admin/runs/${i.runId}`, i.runId), className: 'mono' },
          i.domain,
        ]);
        const params = filterParams({ ...q, limit: undefined });
        const next = page.nextCursor
          ? `<p>${link(`/admin/failures?${filterParams({ ...q, limit: q.limit === 100 ? undefined : q.limit }, { cursor: page.nextCursor })}`, 'Next page →')}</p>`
          : '';
        const shown = `<p class="muted">${num(page.items.length)} shown${q.cursor ? ` (a later page; ${link(`/admin/failures?${params}`, 'first page')})` : ''}. ${link(`/admin/failures.csv${params ? `?${params}` : ''}`, 'Download every match as CSV')}</p>`;
        const body = `${filters}${shown}
${table(['Email', 'Kind', 'Reason', 'Description', 'Attempts', 'Failed', 'Run', 'Organization'], rows, { numeric: [4], empty: 'No failed items match.' })}${next}`;
        return reply.type('text/html; charset=utf-8').send(layout({ title: 'Failed items' }, body));
      },
    );

    server.get(
      '/admin/failures.csv',
      {
        schema: {
          tags: ['admin'],
          summary: 'Failed run items as CSV (the same filters)',
          querystring: csvQuery,
          response: { 200: csvAnswer, ...denied },
        },
      },
      async (req, reply) => sendCsv(app, reply, withoutBlanks(req.query)),
    );

    server.get(
      '/admin/runs/:id/failures.csv',
      {
        schema: {
          tags: ['admin'],
          summary: "One run's failed items as CSV",
          params: runParams,
          querystring: csvQuery.omit({ run: true }),
          response: { 200: csvAnswer, ...denied },
        },
      },
      async (req, reply) => sendCsv(app, reply, { ...withoutBlanks(req.query), run: req.params.id }),
    );
  };
