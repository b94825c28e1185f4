import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../services/context.js';
import { serviceAccountHistory } from '../../services/profile-state-days.js';
import { esc } from '../pages/html.js';
import { htmlPage, plainText } from '../responses.js';
import { CHART_STYLE, profileDaysHtml } from './charts.js';
import { badge, type Cell, dateCell, layout, link, num, table } from './html.js';
import { adminErrorHandler } from './routes.js';

/**
 * One Service Account on /admin: its state, its Profiles now, and connected/disconnected per day
 * over the last 30 days (a picture that works with JavaScript off, and the same as a table).
 * Other sections of this page (diagnostics) may be added below the history.
 */

const params = z.object({
  id: z.string().regex(/^ser_[a-z2-7]{26}$/, 'must be a Service Account id (ser_…)'),
});

export const HISTORY_DAYS = 30;

export const serviceAccountPageRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    server.setErrorHandler(adminErrorHandler);
    server.get(
      '/admin/service-accounts/:id',
      {
        schema: {
          tags: ['admin'],
          summary: 'One Service Account: state and Profiles connected over the last days',
          params,
          response: {
            200: htmlPage('The Service Account'),
            401: plainText('ADMIN_TOKEN is required (Bearer, or basic auth with the token as password)'),
            422: htmlPage('A filter or id that is not valid (the page says which)'),
            404: htmlPage('No such Service Account'),
          },
        },
      },
      async (req, reply) => {
        const html = (body: string) => reply.type('text/html; charset=utf-8').send(body);
        const h = await serviceAccountHistory(app, req.params.id, HISTORY_DAYS);
        if (!h) {
          reply.code(404);
          return html(
            layout(
              { title: 'Service Account not found' },
              `<p>No Service Account ${esc(req.params.id)}.</p>`,
            ),
          );
        }
        const sa = h.serviceAccount;
        const facts = table(
          ['', ''],
          [
            ['Organization', `${sa.provider} · ${sa.domain}`],
            [
              'Status',
              {
                html: `${badge(sa.status)}${sa.brokenReason ? ` <code>${esc(sa.brokenReason)}</code>` : ''}`,
              },
            ],
            ['Application', { html: esc(sa.applicationId), className: 'mono' }],
            ['Profiles connected', num(h.connected)],
            ['Profiles disconnected', num(h.disconnected)],
            ['Last directory sync', dateCell(sa.lastDirectorySyncAt)],
            ['Last error', sa.lastError ?? '—'],
            ['Registered', dateCell(sa.createdAt)],
          ] satisfies Cell[][],
          { noHeader: true },
        );
        const links = `<p>${link(`/admin/audit?object_id=${encodeURIComponent(sa.id)}`, 'Audit log of this Service Account')} · ${link(`/admin/profiles`, 'Disconnected Profiles')} · ${link(`/admin/service-accounts/${sa.id}/diagnostics`, 'Check permissions now (ec doctor)')}</p>`;
        const body = `${CHART_STYLE}<div class="card">${facts}${links}</div>
<h2>Profiles over the last ${HISTORY_DAYS} days</h2>
${profileDaysHtml(h.days)}
<p class="muted">Counted every hour; a day keeps its last count, today shows the counts now. Days before counting began are empty.</p>`;
        return html(layout({ title: `Service Account ${sa.id}` }, body));
      },
    );
  };
