import { describe, expect, it } from 'vitest';
import { googleError } from './errors.js';

/** A GaxiosError-shaped value, as googleapis throws them. */
function gaxios(status: number, data: unknown, headers: Record<string, string> = {}) {
  return Object.assign(new Error('request failed'), {
    status,
    response: { status, data, headers: new Headers(headers) },
  });
}

const apiError = (status: number, reason: string, domain = 'global') =>
  gaxios(status, { error: { code: status, message: reason, errors: [{ domain, reason, message: reason }] } });

describe('googleError', () => {
  it.each([
    [
      gaxios(401, { error: 'unauthorized_client', error_description: 'Client is unauthorized' }),
      'token',
      'delegation_not_granted',
    ],
    [
      gaxios(400, { error: 'invalid_grant', error_description: 'Invalid email or User ID' }),
      'token',
      'user_not_found',
    ],
    [
      gaxios(400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }),
      'token',
      'invalid_credentials',
    ],
    [
      gaxios(400, { error: 'invalid_scope', error_description: 'bad scope' }),
      'token',
      'insufficient_permissions',
    ],
    [gaxios(503, { error: 'temporarily_unavailable' }), 'token', 'provider_unavailable'],
    [apiError(403, 'forbidden'), 'directory.list', 'insufficient_permissions'],
    [apiError(403, 'insufficientPermissions'), 'directory.list', 'insufficient_permissions'],
    [apiError(403, 'notACalendarUser', 'calendar'), 'calendar', 'mailbox_not_enabled'],
    [apiError(404, 'notFound'), 'calendar', 'mailbox_not_enabled'],
    [apiError(404, 'notFound'), 'directory.user', 'user_not_found'],
    [apiError(403, 'userRateLimitExceeded', 'usageLimits'), 'calendar', 'rate_limited'],
    [apiError(403, 'quotaExceeded', 'usageLimits'), 'directory.list', 'rate_limited'],
    [apiError(429, 'rateLimitExceeded', 'usageLimits'), 'directory.list', 'rate_limited'],
    [apiError(500, 'backendError'), 'directory.list', 'provider_unavailable'],
    [apiError(401, 'authError'), 'calendar', 'invalid_credentials'],
    [apiError(400, 'invalid'), 'directory.list', 'provider_unavailable'],
  ] as const)('%#: maps to %s', (err, kind, reason) => {
    const mapped = googleError(err, kind);
    expect(mapped.reason).toBe(reason);
    expect(mapped.provider).toBe('google');
  });

  it('takes retryAfterMs from Retry-After, with a default', () => {
    const withHeader = gaxios(
      429,
      { error: { code: 429, message: 'x', errors: [{ reason: 'rateLimitExceeded' }] } },
      {
        'retry-after': '3',
      },
    );
    expect(googleError(withHeader, 'calendar')).toMatchObject({ retryAfterMs: 3000 });
    expect(googleError(apiError(429, 'rateLimitExceeded'), 'calendar')).toMatchObject({ retryAfterMs: 1000 });
  });

  it('treats errors without a response (network, timeout) as provider_unavailable', () => {
    const err = googleError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'calendar');
    expect(err).toMatchObject({ reason: 'provider_unavailable', retryable: true });
  });
});
