import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../../services/context.js';
import {
  type CheckNowResult,
  type Fix,
  isProfileId,
  type RelinkView,
  relinkView,
  requestProfileCheck,
} from '../../services/relink.js';
import { type ErrorPage, pageErrorHandler } from '../errors.js';
import { esc, fromNow, page } from '../pages/html.js';
import { htmlPage, redirect } from '../responses.js';

const tags = ['pages'];
const missing = { 404: htmlPage('No such Profile (or a malformed id): the 404 page') };
const notFoundSchema = { tags, summary: 'Any other path under /relink: the 404 page', response: missing };

export const RELINK_PREFIX = '/relink';

const PROVIDER_LABELS = { google: 'Google Workspace', microsoft: 'Microsoft 365' } as const;
const KIND_LABELS = { user: 'user', room: 'room', shared_mailbox: 'shared mailbox' } as const;
const STATE_WORDS = {
  connected: 'Connected',
  disconnected: 'Disconnected',
  paused: 'Disconnected: its organization’s connection is broken',
  revoked: 'Revoked',
} as const;

/** What the POST's 303 carries back to the page (`?check=`); anything else is ignored. */
type Flash = CheckNowResult['outcome'];
const FLASHES: readonly string[] = ['queued', 'rate_limited', 'not_checkable'] satisfies Flash[];

function when(at: Date | null, now: number): string {
  if (!at) {
    return 'never';
  }
  const text = `${at.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  return `${text} (${fromNow(at, now, 'days')})`;
}

function renderFix(fix: Fix): string {
  const steps = fix.steps
    .map((s) => `<li>${esc(s.text)}${s.code ? `<pre><code>${esc(s.code)}</code></pre>` : ''}</li>`)
    .join('\n');
  return `<div class="card"><h2>How to fix it</h2>
<p><strong>Who:</strong> ${esc(fix.who)}</p>
<ol>${steps}</ol></div>`;
}

function nextCheckWords(v: RelinkView, now: number): string {
  if (v.state === 'revoked') {
    return 'never (revoked)';
  }
  if (v.checkNow.queuedAt && (v.lastCheckedAt?.getTime() ?? 0) < v.checkNow.queuedAt.getTime()) {
    return 'now: a requested check is queued';
  }
  if (v.state === 'paused') {
    return `when the organization’s connection works again; it is re-verified ${v.nextCheckAt ? when(v.nextCheckAt, now) : 'automatically'}`;
  }
  if (v.nextCheckAt && v.nextCheckAt.getTime() <= now) {
    return 'due now (the next sweep queues it)';
  }
  return when(v.nextCheckAt, now);
}

function renderCheckNow(v: RelinkView, flash: string | undefined, now: number): string {
  if (v.state === 'revoked') {
    return '';
  }
  const notes: string[] = [];
  const ran =
    v.checkNow.queuedAt !== null && (v.lastCheckedAt?.getTime() ?? 0) >= v.checkNow.queuedAt.getTime();
  if (flash === 'queued') {
    notes.push(
      ran
        ? `<p class="warn" role="status">The check you asked for ran ${esc(when(v.lastCheckedAt, now))}; the state above is its result.</p>`
        : '<p class="warn" role="status">A check was queued. This page reloads by itself until it has run.</p>',
    );
  } else if (flash === 'rate_limited') {
    notes.push(
      v.checkNow.retryInSecs > 0
        ? `<p class="warn" role="status">This Profile was checked recently; try again in ${v.checkNow.retryInSecs} s.</p>`
        : '<p class="warn" role="status">This Profile was checked recently; you can try again now.</p>',
    );
  } else if (flash === 'not_checkable' || v.state === 'paused') {
    notes.push(
      '<p class="muted">Checks of this Profile wait for its organization’s connection (the Service Account) to work again: fix that first. Once it works, this Profile is re-checked at once.</p>',
    );
  }
  const form =
    v.state === 'paused'
      ? ''
      : `<form method="post" action="${RELINK_PREFIX}/${esc(v.profileId)}/check"><button type="submit">Check now</button>
<span class="muted">At most one check a minute.</span></form>`;
  return `<div class="card"><h2>Check now</h2>${notes.join('')}${form}</div>`;
}

function renderPage(v: RelinkView, flash: string | undefined): string {
  const now = Date.now();
  const rows: [string, string][] = [
    ['Mailbox', `${esc(v.email)} (${KIND_LABELS[v.kind]})`],
    ['Profile name', esc(v.profileName)],
    ['Provider', `${PROVIDER_LABELS[v.provider]} · ${esc(v.domain)}`],
    [
      'State',
      `<strong>${esc(STATE_WORDS[v.state])}</strong>${v.reason ? `: ${esc(v.reasonDescription)} <code>${esc(v.reason)}</code>` : ''}`,
    ],
  ];
  if (v.disconnectedAt && v.state !== 'revoked') {
    rows.push(['Disconnected since', esc(when(v.disconnectedAt, now))]);
  }
  rows.push(['Last checked', esc(when(v.lastCheckedAt, now))]);
  if (v.failureCount > 0 && v.state !== 'connected') {
    rows.push(['Failed checks in a row', String(v.failureCount)]);
  }
  rows.push(['Next check', esc(nextCheckWords(v, now))]);
  const table = rows.map(([k, val]) => `<tr><th>${k}</th><td>${val}</td></tr>`).join('\n');
  const intro =
    v.state === 'connected'
      ? '<p>This calendar connection works. Nothing needs fixing.</p>'
      : v.state === 'revoked'
        ? '<p>This calendar connection was revoked and is not checked any more. To connect the mailbox again, connect it again from the Application.</p>'
        : `<p>This calendar connection does not work. Once the organization’s admin has fixed it, it reconnects by itself at the next check, or at once with “Check now”.</p>`;
  const waiting =
    flash === 'queued' &&
    v.checkNow.queuedAt !== null &&
    (v.lastCheckedAt?.getTime() ?? 0) < v.checkNow.queuedAt.getTime();
  return page(
    `Calendar connection: ${v.profileName}`,
    `<h1>Calendar connection: ${esc(v.profileName)}</h1>
<div class="card">${intro}<table>${table}</table></div>
${v.fix ? renderFix(v.fix) : ''}
${renderCheckNow(v, flash, now)}`,
    waiting ? { refreshSecs: 5 } : {},
  );
}

const notFoundPage = () =>
  page(
    'Not found',
    '<h1>This link does not work</h1><p class="error">No calendar connection has this address. Check that the whole link was copied.</p>',
  );

function html(reply: FastifyReply, status: number, body: string) {
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('x-robots-tag', 'noindex')
    .header(
      'content-security-policy',
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    )
    .type('text/html; charset=utf-8')
    .send(body);
}

/**
 * Errors under /relink: a refused request (an undecodable URL, text that cannot be stored) is a miss
 * like any other, the 404 page; rate limits keep their 429, and failures their status.
 */
const relinkErrorPage: ErrorPage = (reply, status, message) =>
  status === 429 || status >= 500
    ? html(
        reply,
        status,
        page('Try again later', `<h1>Try again later</h1><p class="error">${esc(message)}</p>`),
      )
    : html(reply, 404, notFoundPage());

/** The error handler of every /relink route, and of URLs under /relink the router cannot decode. */
export const relinkErrorHandler = pageErrorHandler(relinkErrorPage);

/**
 * A form posted from another site. No cookie token here (the authorize page's double-submit cookie
 * guards a session; this page has none): the Profile id in the path is the only credential, so a
 * site that does not know it cannot address the form, and one that does can post it itself. Refusing
 * foreign `Origin` / `Sec-Fetch-Site` still keeps other pages from making visitors' browsers post it.
 */
function isCrossSite(req: FastifyRequest, publicUrl: string): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') {
    return true;
  }
  const origin = req.headers.origin;
  if (origin === undefined) {
    return false;
  }
  try {
    // Our own host (as the admin pages check it: TLS may end at a proxy), or PUBLIC_URL's origin.
    return origin !== new URL(publicUrl).origin && new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

const paramOf = (req: FastifyRequest): string => {
  const id = (req.params as { profileId?: unknown }).profileId;
  return typeof id === 'string' ? id : '';
};

/**
 * `GET /relink/{profile_id}` (the `profile_relink_url`): the Profile's state, the fix, and a "check
 * now" form posting to `/relink/{profile_id}/check`. Server-rendered, no JavaScript, no login. Every
 * miss under /relink (unknown or malformed id, over-long paths, other methods) is a 404 HTML page.
 */
export const relinkRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    await server.register(
      async (scope) => {
        const notFound = async (_req: FastifyRequest, reply: FastifyReply) =>
          html(reply, 404, notFoundPage());
        scope.setNotFoundHandler(notFound);
        scope.setErrorHandler(relinkErrorHandler);
        // Over-long segments miss the parametric routes (the router's param length limit) and land here.
        scope.get('/*', { schema: notFoundSchema }, notFound);
        scope.post('/*', { schema: notFoundSchema }, notFound);

        const pageSchema = {
          tags,
          summary: "profile_relink_url: the Profile's state and the admin's fix",
          response: { 200: htmlPage("The Profile's state, reason, next check and fix"), ...missing },
        };
        scope.get('/:profileId', { schema: pageSchema }, async (req, reply) => {
          const view = await relinkView(app, paramOf(req));
          if (!view) {
            return notFound(req, reply);
          }
          const check = (req.query as { check?: unknown }).check;
          const flash = typeof check === 'string' && FLASHES.includes(check) ? check : undefined;
          return html(reply, 200, renderPage(view, flash));
        });

        const checkSchema = {
          tags,
          summary: 'Check now: queue an immediate check (one per Profile per minute)',
          response: {
            303: redirect('Back to the page, with what happened'),
            403: htmlPage('Sent from another site'),
            ...missing,
          },
        };
        scope.post('/:profileId/check', { schema: checkSchema }, async (req, reply) => {
          const profileId = paramOf(req);
          if (!isProfileId(profileId)) {
            return notFound(req, reply);
          }
          if (isCrossSite(req, app.config.http.publicUrl)) {
            return html(
              reply,
              403,
              page(
                'Not allowed',
                `<h1>This form was sent from another site</h1><p class="error">Open <a href="${RELINK_PREFIX}/${esc(profileId)}">the connection page</a> and press “Check now” there.</p>`,
              ),
            );
          }
          const result = await requestProfileCheck(app, profileId);
          if (result.outcome === 'not_found') {
            return notFound(req, reply);
          }
          return reply
            .code(303)
            .header('location', `${RELINK_PREFIX}/${profileId}?check=${result.outcome}`)
            .send();
        });
      },
      { prefix: RELINK_PREFIX },
    );
  };
