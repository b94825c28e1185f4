import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import { safeEqual } from '../../lib/crypto.js';
import { type Application, findApplicationByClient } from '../../services/applications.js';
import type { AppContext } from '../../services/context.js';
import { providerFailureMessage } from '../../services/reasons.js';
import { DEFAULT_DELEGATED_SCOPE, isCalendarScope, isServiceAccountScope } from '../../services/scopes.js';
import { connectServiceAccount } from '../../services/service-account-settings.js';
import { registrationSchema } from '../../services/service-accounts.js';
import { type ErrorPage, pageErrorHandler } from '../errors.js';
import { esc, page } from '../pages/html.js';
import { htmlPage, redirect } from '../responses.js';

const pageErrors = {
  400: htmlPage('The link cannot be used (unknown client_id, bad redirect_uri or scope)'),
  403: htmlPage('The form was not sent from this page (CSRF)'),
  422: htmlPage('The form again, saying what the provider refused'),
};

export const AUTHORIZE_PATH = '/enterprise_connect/oauth/authorize';
const CSRF_COOKIE = 'ec_csrf';

const str = (max: number) => z.string().max(max).optional();
const authorizeQuery = z.object({
  response_type: str(20),
  client_id: str(200),
  redirect_uri: str(2048),
  scope: str(1000),
  delegated_scope: str(1000),
  state: str(2048),
});

const formBody = authorizeQuery.extend({
  csrf: str(200),
  action: z.enum(['connect', 'cancel']).optional(),
  provider: z.enum(['google', 'microsoft']).optional(),
  domain: str(253),
  admin_email: str(320),
  credentials: str(20_000),
  tenant_id: str(253),
  ms_client_id: str(64),
  ms_client_secret: str(1024),
});
type Form = z.infer<typeof formBody>;

type Request = {
  application: Application;
  redirectUri: string;
  scope: string;
  delegatedScope: string;
  state: string;
};

/** Checks the authorize parameters; problems with client or redirect URI are shown, never redirected to. */
async function checkRequest(
  app: AppContext,
  q: z.infer<typeof authorizeQuery>,
): Promise<Request | { problem: string }> {
  if (q.response_type !== undefined && q.response_type !== 'code') {
    return { problem: 'response_type must be "code".' };
  }
  const application = q.client_id ? await findApplicationByClient(app, q.client_id) : undefined;
  if (!application) {
    return { problem: 'Unknown client_id.' };
  }
  const redirectUri = q.redirect_uri ?? '';
  let parsed: URL | undefined;
  try {
    parsed = new URL(redirectUri);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    return { problem: 'redirect_uri must be an absolute http(s) URL.' };
  }
  // Exact match against the registered list; none registered means none allowed (else the page
  // would hand a code to any address a link names).
  if (application.redirectUris.length === 0) {
    return {
      problem:
        'This application has no registered redirect URIs, so it cannot use this page. Its owner registers them first (ec apps update --client-id ID --redirect-uri URI).',
    };
  }
  if (!application.redirectUris.includes(redirectUri)) {
    return { problem: 'redirect_uri is not registered for this application.' };
  }
  const scope = q.scope ?? '';
  if (!isServiceAccountScope(scope)) {
    return { problem: 'scope must list service_account/... scopes.' };
  }
  const delegatedScope = q.delegated_scope ?? DEFAULT_DELEGATED_SCOPE;
  if (!isCalendarScope(delegatedScope)) {
    return { problem: 'delegated_scope must be calendar scopes such as read_write.' };
  }
  return { application, redirectUri, scope, delegatedScope, state: q.state ?? '' };
}

function cookieValue(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) {
      return v.join('=');
    }
  }
  return undefined;
}

function redirectWith(reply: FastifyReply, redirectUri: string, params: Record<string, string>) {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) {
    if (v !== '') {
      url.searchParams.set(k, v);
    }
  }
  return reply.code(303).header('location', url.toString()).send();
}

function renderForm(r: Request, csrf: string, form: Partial<Form>, error?: string): string {
  const hidden = (name: string, value: string) =>
    `<input type="hidden" name="${name}" value="${esc(value)}">`;
  const provider = form.provider ?? 'google';
  return page(
    'Connect your organization',
    `<h1>Connect your organization to ${esc(r.application.name)}</h1>
<div class="card">
<p class="muted">${esc(r.application.name)} asks for Enterprise Connect access: <code>${esc(r.scope)}</code>, and at most
<code>${esc(r.delegatedScope)}</code> for each calendar it is later granted. The credential is checked with the provider before anything is saved.</p>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="${AUTHORIZE_PATH}">
${hidden('csrf', csrf)}${hidden('client_id', r.application.clientId)}${hidden('redirect_uri', r.redirectUri)}
${hidden('scope', r.scope)}${hidden('delegated_scope', r.delegatedScope)}${hidden('state', r.state)}
<label for="provider">Provider</label>
<select id="provider" name="provider">
<option value="google"${provider === 'google' ? ' selected' : ''}>Google Workspace (service account with domain-wide delegation)</option>
<option value="microsoft"${provider === 'microsoft' ? ' selected' : ''}>Microsoft 365 (Entra app with application permissions)</option>
</select>
<label for="domain">Domain</label><input type="text" id="domain" name="domain" value="${esc(form.domain)}" placeholder="example.com">
<fieldset><legend>Google Workspace</legend>
<label for="admin_email">Admin email</label><input type="email" id="admin_email" name="admin_email" value="${esc(form.admin_email)}">
<label for="credentials">Service-account key (JSON)</label><textarea id="credentials" name="credentials"></textarea>
</fieldset>
<fieldset><legend>Microsoft 365</legend>
<label for="tenant_id">Tenant id</label><input type="text" id="tenant_id" name="tenant_id" value="${esc(form.tenant_id)}">
<label for="ms_client_id">Application (client) id</label><input type="text" id="ms_client_id" name="ms_client_id" value="${esc(form.ms_client_id)}">
<label for="ms_client_secret">Client secret</label><input type="password" id="ms_client_secret" name="ms_client_secret">
</fieldset>
<p><button type="submit" name="action" value="connect">Verify and connect</button>
<button type="submit" name="action" value="cancel" class="secondary">Cancel</button></p>
</form></div>`,
  );
}

function registrationFrom(form: Form, r: Request): unknown {
  const base = { domain: form.domain, scope: r.scope, delegated_scope: r.delegatedScope };
  return form.provider === 'microsoft'
    ? {
        ...base,
        provider: 'microsoft',
        tenant_id: form.tenant_id,
        client_id: form.ms_client_id,
        client_secret: form.ms_client_secret,
      }
    : { ...base, provider: 'google', admin_email: form.admin_email, credentials: form.credentials };
}

/**
 * The form's Content-Security-Policy: nothing loads but its inline style, it is never framed, and
 * it may be submitted only to this page and, as browsers also check the redirect that follows a
 * submission, to the origin of its (registered) redirect URI. An origin holds no `;`, `,` or space.
 */
export function authorizePagePolicy(redirectUri: string): string {
  return `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${new URL(redirectUri).origin}; frame-ancestors 'none'; base-uri 'none'`;
}

const problemPage: ErrorPage = (reply, status, problem) =>
  reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(page('Cannot connect', `<h1>This link cannot be used</h1><p class="error">${esc(problem)}</p>`));

/** The authorize page's errors (a refused query or form, an undecodable URL) as its own HTML page. */
export const authorizePageErrorHandler = pageErrorHandler(problemPage);

/**
 * Cronofy's Enterprise Connect authorize URL: a server-rendered page where an admin picks Google or
 * Microsoft and pastes the credential. It is verified live, then the browser is sent back to
 * `redirect_uri` with `code` and `state` (or `error=access_denied`). CSRF: a SameSite=Strict cookie
 * that must match the form's hidden field.
 */
export const authorizePageRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    server.setErrorHandler(authorizePageErrorHandler);

    const showForm = (reply: FastifyReply, r: Request, form: Partial<Form>, error?: string, status = 200) => {
      const csrf = randomBytes(24).toString('base64url');
      return reply
        .code(status)
        .header(
          'set-cookie',
          `${CSRF_COOKIE}=${csrf}; Path=${AUTHORIZE_PATH}; HttpOnly; SameSite=Strict; Max-Age=3600`,
        )
        .header('cache-control', 'no-store')
        .header('x-frame-options', 'DENY')
        .header('content-security-policy', authorizePagePolicy(r.redirectUri))
        .type('text/html; charset=utf-8')
        .send(renderForm(r, csrf, form, error));
    };

    server.get(
      AUTHORIZE_PATH,
      {
        schema: {
          querystring: authorizeQuery,
          tags: ['pages'],
          summary: "Cronofy's Enterprise Connect authorize page",
          response: { 200: htmlPage('Pick Google or Microsoft and paste the credential'), ...pageErrors },
        },
      },
      async (req, reply) => {
        const r = await checkRequest(app, req.query);
        return 'problem' in r ? problemPage(reply, 400, r.problem) : showForm(reply, r, {});
      },
    );

    const postSchema = {
      body: formBody,
      tags: ['pages'],
      summary: 'Verify the credential live, then redirect with code and state',
      response: {
        303: redirect('To redirect_uri with code and state, or error=access_denied'),
        ...pageErrors,
      },
    };
    server.post(AUTHORIZE_PATH, { schema: postSchema }, async (req, reply) => {
      const form = req.body;
      const r = await checkRequest(app, form);
      if ('problem' in r) {
        return problemPage(reply, 400, r.problem);
      }
      const cookie = cookieValue(req, CSRF_COOKIE);
      if (!cookie || !form.csrf || !safeEqual(cookie, form.csrf)) {
        return showForm(
          reply,
          r,
          form,
          'Your session expired or the form was not sent from this page. Please try again.',
          403,
        );
      }
      if (form.action === 'cancel') {
        return redirectWith(reply, r.redirectUri, { error: 'access_denied', state: r.state });
      }
      const parsed = registrationSchema.safeParse(registrationFrom(form, r));
      if (!parsed.success) {
        const problems = parsed.error.issues
          .map((i) => `${i.path.join('.') || 'form'}: ${i.message}`)
          .join('; ');
        return showForm(reply, r, form, `Please check the form: ${problems}`, 422);
      }
      try {
        // An existing Service Account of this Application and domain gets its credential replaced.
        const { code } = await connectServiceAccount(
          app,
          r.application,
          parsed.data,
          'authorize-page',
          r.redirectUri,
        );
        return redirectWith(reply, r.redirectUri, { code, state: r.state });
      } catch (err) {
        // A refused credential is a ValidationError naming the provider's reason; an unreachable or
        // throttling provider is shown the same way, so the admin can try again.
        const problem = err instanceof ValidationError ? err.message : providerFailureMessage(err);
        if (problem !== undefined) {
          return showForm(reply, r, form, problem, 422);
        }
        throw err;
      }
    });
  };
