import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isAppError } from '../../errors.js';
import type { AppContext } from '../../services/context.js';
import { type DiagnosticCheck, diagnoseServiceAccountById } from '../../services/diagnostics.js';
import { esc } from '../pages/html.js';
import { htmlPage, plainText } from '../responses.js';
import { badge, type Cell, layout, link, table } from './html.js';
import { adminErrorHandler } from './routes.js';

const params = z.object({
  id: z.string().regex(/^ser_[a-z2-7]{26}$/, 'must be a Service Account id (ser_…)'),
});
const query = z.object({ mailbox: z.string().max(320).optional() });

const STATUS_BADGE: Record<DiagnosticCheck['status'], string> = {
  ok: badge('ok', 'active'),
  failed: badge('failed', 'failed'),
  warning: badge('warning', 'warn'),
  skipped: badge('skipped'),
};

/** `/admin/service-accounts/{id}/diagnostics`: the live permission check, one row per check (what `ec doctor` prints). */
export const diagnosticsPageRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    server.setErrorHandler(adminErrorHandler);
    server.get(
      '/admin/service-accounts/:id/diagnostics',
      {
        schema: {
          tags: ['admin'],
          summary: "A Service Account's live permission check (ec doctor), with the fix for each failure",
          params,
          querystring: query,
          response: {
            200: htmlPage('One row per check: ok, or the provider answer and the fix'),
            401: plainText('ADMIN_TOKEN is required (Bearer, or basic auth with the token as password)'),
            404: htmlPage('No such Service Account'),
            422: htmlPage(
              'A mailbox or id that is not valid, or a revoked Service Account (the page says which)',
            ),
          },
        },
      },
      async (req, reply) => {
        const html = (body: string) => reply.type('text/html; charset=utf-8').send(body);
        const back = link(`/admin/service-accounts/${req.params.id}`, 'Back to the Service Account');
        let d: Awaited<ReturnType<typeof diagnoseServiceAccountById>>;
        try {
          d = await diagnoseServiceAccountById(app, req.params.id, { mailbox: req.query.mailbox });
        } catch (err) {
          if (isAppError(err) && err.code === 'validation_failed') {
            reply.code(422);
            return html(layout({ title: 'Permission check' }, `<p>${esc(err.message)}</p><p>${back}</p>`));
          }
          throw err;
        }
        if (!d) {
          reply.code(404);
          return html(
            layout(
              { title: 'Service Account not found' },
              `<p>No Service Account ${esc(req.params.id)}.</p>`,
            ),
          );
        }
        const rows = d.checks.map((c): Cell[] => [
          { html: `<code>${esc(c.check)}</code>` },
          { html: STATUS_BADGE[c.status] },
          { html: esc(c.target), className: 'wrap mono' },
          {
            html: `${c.reason ? `<code>${esc(c.reason)}</code>${c.provider_code ? ` (<code>${esc(c.provider_code)}</code>)` : ''}: ` : ''}${esc(c.detail)}`,
            className: 'wrap',
          },
          { html: c.fix ? esc(c.fix) : '—', className: 'wrap' },
        ]);
        const failed = d.checks.filter((c) => c.status === 'failed').length;
        const summary =
          failed === 0 ? badge('all checks passed', 'active') : badge(`${failed} check(s) failed`, 'failed');
        const body = `<p>${summary} · ${esc(d.provider_name)} · ${esc(d.domain)} · checked ${esc(d.checked_at)} · ${back}</p>
<form method="get"><label>Sample mailbox <input name="mailbox" type="email" value="${esc(req.query.mailbox ?? '')}"></label> <button>Check again</button></form>
${table(['Check', 'Status', 'Tried', "Provider's answer", 'Fix'], rows)}
<p class="muted">The same as <code>ec doctor --service-account ${esc(d.service_account_id)}</code> and <code>GET /v1/service_accounts/${esc(d.service_account_id)}/diagnostics</code>; every visit checks live.</p>`;
        return html(layout({ title: `Permission check of ${d.service_account_id}` }, body));
      },
    );
  };
