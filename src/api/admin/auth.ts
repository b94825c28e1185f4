import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * `ADMIN_TOKEN` guards `/admin` and `/admin/queues`; `/metrics` takes METRICS_TOKEN (ADMIN_TOKEN
 * when that is unset). Either is accepted as `Authorization: Bearer
 * <token>` (scripts, Prometheus' `authorization` setting) or HTTP basic auth with the token as the
 * password and any user name (browsers: the login prompt appears on the 401's `WWW-Authenticate`).
 *
 * Browsers resend basic credentials by themselves, so a state-changing request must also prove it
 * comes from our own pages: cross-site requests (Origin or Sec-Fetch-Site saying so) are refused,
 * and the dashboard's forms carry a token derived from ADMIN_TOKEN that another site cannot know.
 */
export const ADMIN_REALM = 'Enterprise Connect admin';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export type AdminCredential = { scheme: 'bearer' | 'basic'; token: string };

export function adminCredential(req: FastifyRequest): AdminCredential | undefined {
  return credentialOf(req.headers.authorization);
}

/** The token of an `Authorization` header: Bearer, or basic auth's password. */
export function credentialOf(header: string | undefined): AdminCredential | undefined {
  if (typeof header !== 'string') {
    return undefined;
  }
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer?.[1]) {
    return { scheme: 'bearer', token: bearer[1] };
  }
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const sep = decoded.indexOf(':');
    return sep >= 0 ? { scheme: 'basic', token: decoded.slice(sep + 1) } : undefined;
  }
  return undefined;
}

/** The hidden form field value proving a POST came from a page we rendered. */
export function csrfToken(adminToken: string): string {
  return createHmac('sha256', adminToken).update('ec-admin-form').digest('base64url');
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function crossSite(req: FastifyRequest): boolean {
  const fetchSite = req.headers['sec-fetch-site'];
  if (fetchSite === 'cross-site' || fetchSite === 'same-site') {
    return true;
  }
  const origin = req.headers.origin;
  if (typeof origin !== 'string' || origin === '') {
    return false;
  }
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

function refuse(reply: FastifyReply, status: number, message: string, challenge: boolean): FastifyReply {
  if (challenge) {
    reply.header('www-authenticate', `Basic realm="${ADMIN_REALM}", charset="UTF-8"`);
  }
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .type('text/plain; charset=utf-8')
    .send(`${message}\n`);
}

/** Whether an `Authorization` header carries `token` (Bearer, or as the basic-auth password). */
export function carriesToken(header: string | undefined, token: string): boolean {
  const cred = credentialOf(header);
  return cred !== undefined && sameSecret(cred.token, token);
}

const ADMIN_TEXTS = {
  unset: 'ADMIN_TOKEN not configured: set it to use /admin and /admin/queues.',
  missing:
    'ADMIN_TOKEN required: send Authorization: Bearer <token>, or log in with any user name and the token as password.',
};
const METRICS_TEXTS = {
  unset: 'METRICS_TOKEN unset and ADMIN_TOKEN not configured: set one to use /metrics.',
  missing: 'METRICS_TOKEN (or, when it is unset, ADMIN_TOKEN) required: send Authorization: Bearer <token>.',
};

/**
 * An `onRequest` hook for every admin route: 403 when ADMIN_TOKEN is not configured, 401 (with a
 * basic-auth challenge) without the right token, 403 for a cross-site state-changing request.
 */
export function requireAdmin(adminToken: string | undefined) {
  return requireToken(adminToken, ADMIN_TEXTS);
}

/**
 * The same for `GET /metrics`, with `config.metricsToken` (METRICS_TOKEN, else ADMIN_TOKEN): a
 * scraper holds a token that opens nothing else, and ADMIN_TOKEN does not open /metrics once
 * METRICS_TOKEN is set.
 */
export function requireMetricsToken(metricsToken: string | undefined) {
  return requireToken(metricsToken, METRICS_TEXTS);
}

function requireToken(token: string | undefined, texts: typeof ADMIN_TEXTS) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (!token) {
      return refuse(reply, 403, texts.unset, false);
    }
    if (!carriesToken(req.headers.authorization, token)) {
      return refuse(reply, 401, texts.missing, true);
    }
    if (!SAFE_METHODS.has(req.method) && crossSite(req)) {
      return refuse(reply, 403, 'Cross-site request refused.', false);
    }
    reply.header('cache-control', 'no-store');
    return undefined;
  };
}

/** For the dashboard's own POST forms: a basic-auth (browser) request must carry the form token. */
export function checkFormToken(req: FastifyRequest, adminToken: string, given: unknown): boolean {
  if (adminCredential(req)?.scheme === 'bearer') {
    return true;
  }
  return typeof given === 'string' && sameSecret(given, csrfToken(adminToken));
}
