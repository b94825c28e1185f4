import { verify } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearer, formBody } from '../http.js';
import type { GoogleTenant, SandboxState } from '../state.js';
import { GOOGLE_ERRORS, sendGoogleTokenError } from './errors.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Audiences Google accepts for the JWT-bearer assertion (the SDK sends the first). */
const AUDIENCES = [
  'https://oauth2.googleapis.com/token',
  'https://www.googleapis.com/oauth2/v4/token',
  'https://accounts.google.com/o/oauth2/token',
];
const EXPIRES_IN_SECS = 3599;
const CLOCK_SKEW_SECS = 300;
const TOKEN_PREFIX = 'ya29.sbx.';

/** What a sandbox Google access token carries (signed, never stored). */
export type GoogleAccess = { sub: string; scopes: string[]; exp: number; epoch: number };

type Claims = { iss?: unknown; sub?: unknown; aud?: unknown; scope?: unknown; iat?: unknown; exp?: unknown };

const LIFETIME_MESSAGE =
  'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.';

function decodeSegment(s: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function registerGoogleToken(app: FastifyInstance, state: SandboxState): void {
  app.post('/token', { config: { kind: 'google-token' } }, (req, reply) => {
    const tenant = state.google;
    const body = formBody(req);
    if (!tenant) {
      return sendGoogleTokenError(reply, 400, 'invalid_grant', 'Invalid grant: account not found');
    }
    if (body.grant_type !== JWT_BEARER) {
      return sendGoogleTokenError(
        reply,
        400,
        'unsupported_grant_type',
        `Invalid grant_type: ${body.grant_type ?? ''}`,
      );
    }
    const parts = (body.assertion ?? '').split('.');
    const header = parts.length === 3 ? decodeSegment(parts[0] as string) : undefined;
    const claims = parts.length === 3 ? (decodeSegment(parts[1] as string) as Claims | undefined) : undefined;
    if (!header || !claims) {
      return sendGoogleTokenError(reply, 400, 'invalid_grant', 'Invalid JWT: Unable to parse the assertion.');
    }
    if (claims.iss !== tenant.key.client_email) {
      return sendGoogleTokenError(reply, 400, 'invalid_grant', 'Invalid grant: account not found');
    }
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
    const signature = Buffer.from(parts[2] as string, 'base64url');
    const kidOk = header.kid === undefined || header.kid === tenant.key.private_key_id;
    if (
      header.alg !== 'RS256' ||
      !kidOk ||
      tenant.keyRevoked ||
      !verify('RSA-SHA256', signed, tenant.publicKey, signature)
    ) {
      return sendGoogleTokenError(reply, 400, 'invalid_grant', 'Invalid JWT Signature.');
    }
    if (
      typeof claims.aud !== 'string' ||
      !(AUDIENCES.includes(claims.aud) || claims.aud === `${state.url}/token`)
    ) {
      return sendGoogleTokenError(reply, 400, 'invalid_grant', 'Invalid JWT: Failed audience check.');
    }
    const now = Math.floor(Date.now() / 1000);
    const { iat, exp } = claims;
    if (
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      exp - iat > 3600 ||
      exp <= iat ||
      exp < now - CLOCK_SKEW_SECS ||
      iat > now + CLOCK_SKEW_SECS
    ) {
      return sendGoogleTokenError(reply, 400, 'invalid_grant', LIFETIME_MESSAGE);
    }
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
    if (scopes.length === 0) {
      return sendGoogleTokenError(reply, 400, 'invalid_scope', 'Empty or missing scope not allowed.');
    }
    let subject = '';
    if (claims.sub !== undefined && claims.sub !== claims.iss) {
      if (typeof claims.sub !== 'string') {
        return sendGoogleTokenError(reply, 400, 'invalid_request', 'Invalid impersonation "sub" field.');
      }
      const refused = checkSubject(tenant, claims.sub, scopes, reply);
      if (refused) {
        return refused;
      }
      subject = claims.sub.toLowerCase();
    }
    state.counters.tokenIssued('google', subject || tenant.key.client_email);
    const access: GoogleAccess = { sub: subject, scopes, exp: now + EXPIRES_IN_SECS, epoch: tenant.epoch };
    return reply.header('cache-control', 'no-cache, no-store, max-age=0, must-revalidate').send({
      access_token: state.signer.signToken(TOKEN_PREFIX, access),
      expires_in: EXPIRES_IN_SECS,
      token_type: 'Bearer',
    });
  });
}

/** Domain-wide delegation, then the impersonated user (providers.md §2.4). */
function checkSubject(
  tenant: GoogleTenant,
  sub: string,
  scopes: string[],
  reply: FastifyReply,
): FastifyReply | undefined {
  const { delegation } = tenant;
  const allowed = delegation.scopes;
  if (!delegation.granted || (allowed !== null && !scopes.every((s) => allowed.includes(s)))) {
    return sendGoogleTokenError(
      reply,
      401,
      'unauthorized_client',
      'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
    );
  }
  if (!sub.includes('@')) {
    return sendGoogleTokenError(reply, 400, 'invalid_grant', 'Not a valid email.');
  }
  const user = tenant.org.users.find(sub);
  if (!user) {
    return sendGoogleTokenError(reply, 400, 'invalid_grant', 'Invalid email or User ID');
  }
  if (user.suspended) {
    // Which text Google sends for a suspended subject is unconfirmed (providers.md §7); the status is the point.
    return sendGoogleTokenError(reply, 400, 'invalid_grant', 'Invalid email or User ID');
  }
  return undefined;
}

/**
 * The caller of a Google API route: a valid, unexpired sandbox token from the current key/delegation
 * epoch whose subject (if any) still exists and is not suspended. Sends 401 authError otherwise.
 */
export function authenticateGoogle(
  state: SandboxState,
  req: FastifyRequest,
  reply: FastifyReply,
): { tenant: GoogleTenant; access: GoogleAccess } | undefined {
  const tenant = state.google;
  const token = bearer(req);
  const access = token ? state.signer.verifyToken<GoogleAccess>(TOKEN_PREFIX, token) : undefined;
  if (!tenant || !access || access.exp * 1000 < Date.now() || access.epoch !== tenant.epoch) {
    GOOGLE_ERRORS.authError(reply);
    return undefined;
  }
  if (access.sub) {
    const user = tenant.org.users.find(access.sub);
    if (!user || user.suspended) {
      GOOGLE_ERRORS.authError(reply);
      return undefined;
    }
  }
  return { tenant, access };
}

export function hasScope(access: GoogleAccess, accepted: readonly string[]): boolean {
  return access.scopes.some((s) => accepted.includes(s));
}
