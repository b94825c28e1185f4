import { parseRetryAfter } from '../signals.js';
import { isProviderError, type ProviderFailure, type ProviderReason, providerError } from '../types.js';

/**
 * Google failures → our reason codes (docs/providers.md has the table). googleapis/gaxios throw a
 * GaxiosError: `status` is the HTTP status, `response.data` the body — `{error, error_description}`
 * from the token endpoint, `{error:{code, message, errors:[{domain, reason}]}}` from the APIs.
 */

/** Where the failing call went: the 404s mean different things. */
export type GoogleCallKind = 'token' | 'directory.user' | 'directory.list' | 'calendar';

type GaxiosLike = {
  status?: number;
  code?: string | number;
  message?: string;
  response?: { status?: number; data?: unknown; headers?: unknown };
};

function headerOf(headers: unknown, name: string): string | null {
  if (!headers || typeof headers !== 'object') {
    return null;
  }
  if (typeof (headers as Headers).get === 'function') {
    return (headers as Headers).get(name);
  }
  const v = (headers as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : null;
}

type Parsed = {
  status: number | undefined;
  /** Token endpoint: `error`; APIs: `errors[0].reason`. */
  code: string | undefined;
  description: string;
  domain: string | undefined;
  retryAfterMs: number | undefined;
  tokenEndpoint: boolean;
};

function parse(err: unknown): Parsed {
  const e = (err ?? {}) as GaxiosLike;
  const status = e.response?.status ?? (typeof e.status === 'number' ? e.status : undefined);
  const data = e.response?.data as { error?: unknown; error_description?: unknown } | undefined;
  const retryAfterMs = parseRetryAfter(headerOf(e.response?.headers, 'retry-after'));
  if (data && typeof data === 'object' && typeof data.error === 'string') {
    const d = data as { error: string; error_description?: unknown };
    return {
      status,
      code: d.error,
      description: typeof d.error_description === 'string' ? d.error_description : d.error,
      domain: undefined,
      retryAfterMs,
      tokenEndpoint: true,
    };
  }
  const apiError =
    data && typeof data === 'object' && data.error && typeof data.error === 'object'
      ? (data.error as { message?: string; errors?: { reason?: string; domain?: string }[] })
      : undefined;
  const first = apiError?.errors?.[0];
  return {
    status,
    code: first?.reason,
    description: apiError?.message ?? e.message ?? 'Google request failed',
    domain: first?.domain,
    retryAfterMs,
    tokenEndpoint: false,
  };
}

const RATE_LIMIT_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'quotaExceeded']);

/** A token-endpoint `invalid_grant`: which subject/key problem it is. */
function invalidGrantReason(description: string): ProviderReason {
  const d = description.toLowerCase();
  if (d.includes('invalid email or user id') || d.includes('not a valid email') || d.includes('deleted')) {
    return 'user_not_found';
  }
  // "Invalid JWT Signature." (key deleted), "account not found" (service account deleted), clock problems.
  return 'invalid_credentials';
}

function reasonFor(p: Parsed, kind: GoogleCallKind): ProviderReason {
  const status = p.status;
  if (status === undefined) {
    return 'provider_unavailable';
  }
  if (status === 429 || (status === 403 && p.code !== undefined && RATE_LIMIT_REASONS.has(p.code))) {
    return 'rate_limited';
  }
  if (status >= 500 || status === 408) {
    return 'provider_unavailable';
  }
  if (p.tokenEndpoint) {
    switch (p.code) {
      case 'unauthorized_client':
      case 'access_denied':
        return 'delegation_not_granted';
      case 'invalid_grant':
        return invalidGrantReason(p.description);
      case 'invalid_scope':
        return 'insufficient_permissions';
      default:
        return 'invalid_credentials';
    }
  }
  if (status === 401) {
    // The token was refused (key or delegation revoked since it was issued, subject suspended).
    return 'invalid_credentials';
  }
  if (status === 403) {
    if (p.code === 'notACalendarUser') {
      return 'mailbox_not_enabled';
    }
    // forbidden (subject not an admin), insufficientPermissions (scope), domain policy.
    return 'insufficient_permissions';
  }
  if (status === 404 || status === 410) {
    return kind === 'calendar' ? 'mailbox_not_enabled' : 'user_not_found';
  }
  // 400 (an expired page token, a bad parameter): nothing an admin can fix; let the queue retry a few times.
  return 'provider_unavailable';
}

export function googleError(err: unknown, kind: GoogleCallKind): ProviderFailure {
  if (isProviderError(err)) {
    return err;
  }
  const p = parse(err);
  const reason = reasonFor(p, kind);
  const message = p.status === undefined ? `Google request failed: ${p.description}` : p.description;
  return providerError('google', reason, message, {
    ...(p.status === undefined ? {} : { status: p.status }),
    ...(p.code === undefined ? {} : { providerCode: p.code }),
    retryAfterMs: p.retryAfterMs,
    cause: err,
  });
}

/** Whether the failure came from the token endpoint (used to refine `invalid_grant`). */
export function isTokenEndpointError(err: unknown): boolean {
  return parse(isProviderError(err) ? err.cause : err).tokenEndpoint;
}
