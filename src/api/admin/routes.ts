import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../services/context.js';
import { effectiveExpiry } from '../../services/credential-dates.js';
import {
  deadLetters,
  disconnectedProfileGroups,
  failedItemsOfRun,
  findAnyRun,
  listDisconnectedProfiles,
  recentRunsWithServiceAccounts,
  retryDeadDeliveries,
  retryDeadDelivery,
  serviceAccountsWithHealth,
} from '../../services/operations.js';
import { cancelRun, retryRun, runJson } from '../../services/provisioning.js';
import { expiryWarnings } from '../../services/service-accounts.js';
import { pageErrorHandler } from '../errors.js';
import { esc } from '../pages/html.js';
import { htmlPage, plainText, redirect } from '../responses.js';
import { checkFormToken, csrfToken } from './auth.js';
import { runChartsSection } from './charts.js';
import { layout } from './html.js';
import {
  type AdminRun,
  deadLettersTable,
  disconnectedProfilesTable,
  disconnectedTable,
  isActive,
  runPage,
  runsTable,
  serviceAccountsTable,
  tiles,
} from './views.js';

const tags = ['admin'];
const denied = {
  401: plainText('ADMIN_TOKEN is required (Bearer, or basic auth with the token as password)'),
  404: htmlPage('No such run or page'),
};
/** A dashboard page (ADMIN_TOKEN). */
const pageSchema = (summary: string) => ({ tags, summary, response: { 200: htmlPage(summary), ...denied } });
/** A dashboard form post: redirects back with a notice. */
const formSchema = (summary: string) => ({
  tags,
  summary,
  response: { 303: redirect('Back to the page, with a notice'), ...denied },
});

/** Reload every few seconds while a run moves, else now and then. */
const ACTIVE_REFRESH_SECS = 3;
const IDLE_REFRESH_SECS = 30;

const runParams = z.object({ id: z.string().regex(/^run_[a-z2-7]{26}$/, 'must be a run id (run_…)') });
const deliveryParams = z.object({
  id: z.string().regex(/^dlv_[a-z0-9]{26}$/, 'must be a delivery id (dlv_…)'),
});
const form = z
  .object({ csrf: z.string().max(200).optional() })
  .passthrough()
  .optional();
const noticeQuery = z.object({ notice: z.string().max(100).optional() });

/** Notices are picked from this list by key (never echoed from the URL). */
function noticeText(raw: string | undefined): string | undefined {
  if (!raw) {
    return undefined;
  }
  const [key, n] = raw.split(':');
  const count = Number(n ?? 0);
  switch (key) {
    case 'retried':
      return `${count} failed item(s) re-queued.`;
    case 'cancelled':
      return `Run cancelled; ${count} pending item(s) will not be provisioned.`;
    case 'delivery-retried':
      return 'The delivery was re-queued for one more attempt.';
    case 'delivery-not-dead':
      return 'That delivery is not dead-lettered any more; nothing to do.';
    case 'deliveries-retried':
      return `${count} dead-lettered deliveries re-queued.`;
    case 'bad-form':
      return 'The form was stale or not ours; reload the page and try again.';
    default:
      return undefined;
  }
}

/** The dashboard's errors (a refused query or form, an undecodable URL) as a dashboard page. */
export const adminErrorHandler = pageErrorHandler((reply, status, message) =>
  reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(layout({ title: status === 404 ? 'Not found' : 'Cannot do that' }, `<p>${esc(message)}</p>`)),
);

/** The server-rendered dashboard (DESIGN §6). Mounted inside the admin-auth scope by server.ts. */
export const adminRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    const adminToken = app.config.adminToken ?? '';
    const csrf = csrfToken(adminToken);
    server.setErrorHandler(adminErrorHandler);
    const html = (reply: FastifyReply, body: string) => reply.type('text/html; charset=utf-8').send(body);

    const loadRuns = async (limit: number, runId?: string): Promise<AdminRun[]> => {
      const rows = await recentRunsWithServiceAccounts(app, { limit, ...(runId ? { runId } : {}) });
      return rows.map(({ run, serviceAccount }) => ({
        ...runJson(run),
        provider: serviceAccount.provider,
        domain: serviceAccount.domain,
      }));
    };
    const refreshFor = (runs: AdminRun[]) => (runs.some(isActive) ? ACTIVE_REFRESH_SECS : IDLE_REFRESH_SECS);
    /** Browser form posts must carry our token; on failure, back to the page with a notice. */
    const formOk = (req: FastifyRequest, body: { csrf?: string | undefined } | undefined) =>
      checkFormToken(req, adminToken, body?.csrf);

    server.get(
      '/admin/',
      { schema: { tags, summary: 'To /admin', response: { 302: redirect('To /admin'), ...denied } } },
      async (_req, reply) => reply.redirect('/admin'),
    );
    const overview = {
      ...pageSchema('Overview: runs, Service Accounts, Profiles, dead letters'),
      querystring: noticeQuery,
    };
    server.get('/admin', { schema: overview }, async (req, reply) => {
      const [runs, sas, groups, { deliveries: dead, total: deadCount }] = await Promise.all([
        loadRuns(10),
        serviceAccountsWithHealth(app, 50),
        disconnectedProfileGroups(app, 10),
        deadLetters(app, 10),
      ]);
      const body = `
${tiles({
  activeRuns: runs.filter(isActive).length,
  brokenServiceAccounts: sas.filter((s) => s.serviceAccount.status === 'broken').length,
  expiringCredentials: sas.filter(
    (s) => expiryWarnings(effectiveExpiry(s.serviceAccount)?.at ?? null).length > 0,
  ).length,
  disconnectedProfiles: sas.reduce((n, s) => n + s.disconnected, 0),
  deadLetters: deadCount,
})}
<h2>Provisioning runs</h2>${runsTable(runs, csrf)}
<h2>Service Accounts</h2>${serviceAccountsTable(sas)}
<h2>Disconnected Profiles by reason</h2>${disconnectedTable(groups)}
<h2>Dead-lettered deliveries</h2>${deadLettersTable(dead, csrf)}`;
      return html(
        reply,
        layout(
          {
            title: 'Enterprise Connect',
            refreshSecs: refreshFor(runs),
            notice: noticeText(req.query.notice),
          },
          body,
        ),
      );
    });

    server.get(
      '/admin/runs',
      { schema: { ...pageSchema('Provisioning runs'), querystring: noticeQuery } },
      async (req, reply) => {
        const runs = await loadRuns(100);
        return html(
          reply,
          layout(
            {
              title: 'Provisioning runs',
              refreshSecs: refreshFor(runs),
              notice: noticeText(req.query.notice),
            },
            runsTable(runs, csrf),
          ),
        );
      },
    );

    server.get(
      '/admin/runs/:id',
      {
        schema: {
          ...pageSchema('One run: counts, reasons, failed items'),
          params: runParams,
          querystring: noticeQuery.extend({ reason: z.string().max(100).optional() }),
        },
      },
      async (req, reply) => {
        const [run] = await loadRuns(1, req.params.id);
        if (!run) {
          return html(reply.code(404), layout({ title: 'Run not found' }, `<p>No run ${req.params.id}.</p>`));
        }
        const failed = await failedItemsOfRun(app, run.id, { reason: req.query.reason, limit: 100 });
        return html(
          reply,
          layout(
            {
              title: `Run ${run.id}`,
              refreshSecs: isActive(run) ? ACTIVE_REFRESH_SECS : undefined,
              notice: noticeText(req.query.notice),
            },
            runPage(run, failed, req.query.reason, csrf, await runChartsSection(app, run.id)),
          ),
        );
      },
    );

    for (const action of ['retry', 'cancel'] as const) {
      server.post(
        `/admin/runs/:id/${action}`,
        {
          schema: {
            ...formSchema(`${action === 'retry' ? 'Retry' : 'Cancel'} a run`),
            params: runParams,
            body: form,
          },
        },
        async (req, reply) => {
          const back = `/admin/runs/${req.params.id}`;
          if (!formOk(req, req.body)) {
            return reply.redirect(`${back}?notice=bad-form`, 303);
          }
          const run = await findAnyRun(app, req.params.id);
          if (!run) {
            return reply.redirect('/admin/runs', 303);
          }
          if (action === 'retry') {
            const { requeued } = await retryRun(app, run);
            return reply.redirect(`${back}?notice=retried:${requeued}`, 303);
          }
          const { cancelled } = await cancelRun(app, run);
          return reply.redirect(`${back}?notice=cancelled:${cancelled}`, 303);
        },
      );
    }

    server.get(
      '/admin/service-accounts',
      { schema: pageSchema('Service Accounts and their health') },
      async (_req, reply) => {
        const sas = await serviceAccountsWithHealth(app, 500);
        return html(
          reply,
          layout({ title: 'Service Accounts', refreshSecs: IDLE_REFRESH_SECS }, serviceAccountsTable(sas)),
        );
      },
    );

    server.get(
      '/admin/profiles',
      {
        schema: {
          ...pageSchema('Disconnected Profiles, by reason'),
          querystring: z.object({ reason: z.string().max(100).optional() }),
        },
      },
      async (req, reply) => {
        const [groups, list] = await Promise.all([
          disconnectedProfileGroups(app, 100),
          listDisconnectedProfiles(app, { reason: req.query.reason, limit: 200 }),
        ]);
        const body = `<h2>By reason</h2>${disconnectedTable(groups)}
<h2>${req.query.reason ? `Profiles disconnected for <code>${req.query.reason.replace(/[^a-z0-9_]/gi, '')}</code>` : 'Profiles (soonest re-check first)'}</h2>
${disconnectedProfilesTable(list)}${list.length >= 200 ? '<p class="muted">First 200 shown.</p>' : ''}`;
        return html(reply, layout({ title: 'Disconnected Profiles', refreshSecs: IDLE_REFRESH_SECS }, body));
      },
    );

    server.get(
      '/admin/deliveries',
      { schema: { ...pageSchema('Dead-lettered deliveries'), querystring: noticeQuery } },
      async (req, reply) => {
        const { deliveries: dead, total: count } = await deadLetters(app, 200);
        const retryAll =
          count > 0
            ? `<form method="post" action="/admin/deliveries/retry-all"><input type="hidden" name="csrf" value="${csrf}"><button type="submit">Retry all ${count} dead letters</button></form>`
            : '';
        return html(
          reply,
          layout(
            { title: 'Dead-lettered deliveries', notice: noticeText(req.query.notice) },
            `<p>${count} delivery(ies) gave up after every retry. Fix the receiver, then retry.</p>${retryAll}${deadLettersTable(dead, csrf)}`,
          ),
        );
      },
    );

    server.post(
      '/admin/deliveries/:id/retry',
      { schema: { ...formSchema('Retry one dead-lettered delivery'), params: deliveryParams, body: form } },
      async (req, reply) => {
        if (!formOk(req, req.body)) {
          return reply.redirect('/admin/deliveries?notice=bad-form', 303);
        }
        const ok = await retryDeadDelivery(app, req.params.id);
        return reply.redirect(
          `/admin/deliveries?notice=${ok ? 'delivery-retried' : 'delivery-not-dead'}`,
          303,
        );
      },
    );

    server.post(
      '/admin/deliveries/retry-all',
      { schema: { ...formSchema('Retry every dead letter'), body: form } },
      async (req, reply) => {
        if (!formOk(req, req.body)) {
          return reply.redirect('/admin/deliveries?notice=bad-form', 303);
        }
        const n = await retryDeadDeliveries(app);
        return reply.redirect(`/admin/deliveries?notice=deliveries-retried:${n}`, 303);
      },
    );
  };
