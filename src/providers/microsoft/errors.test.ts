import { ServerError } from '@azure/msal-node';
import { GraphError } from '@microsoft/microsoft-graph-client';
import { describe, expect, it } from 'vitest';
import { TokenEndpointError } from './auth.js';
import { graphError, isAccessPolicyDenial, isTokenRefusal, tokenError } from './errors.js';

function graph(
  status: number,
  code: string,
  message = code,
  headers: Record<string, string> = {},
): GraphError {
  const e = new GraphError(status, message);
  e.code = code;
  e.headers = new Headers(headers);
  return e;
}

describe('tokenError', () => {
  it.each([
    ['invalid_client', '7000215', 401, 'invalid_credentials'],
    ['invalid_client', '7000222', 401, 'invalid_credentials'],
    ['unauthorized_client', '700016', 400, 'invalid_credentials'],
    ['invalid_client', '7000229', 401, 'consent_revoked'],
    ['invalid_grant', '65001', 400, 'consent_revoked'],
    ['invalid_scope', '1002012', 400, 'insufficient_permissions'],
  ] as const)('%s AADSTS%s → %s', (code, no, status, reason) => {
    const err = new ServerError(code, 'cid', `AADSTS${no}: text\r\nTrace ID: x`, '', no, status);
    const mapped = tokenError(err);
    expect(mapped).toMatchObject({ reason, provider: 'microsoft' });
    expect(mapped.message).toBe(`AADSTS${no}: text`);
    expect(mapped.context.providerCode).toBe(`AADSTS${no}`);
  });

  it('maps a token-endpoint 429 to rate_limited with its Retry-After, and 5xx to provider_unavailable', () => {
    expect(
      tokenError(new TokenEndpointError('temporarily_unavailable', 'x', '', '50196', 429, 2500)),
    ).toMatchObject({
      reason: 'rate_limited',
      retryAfterMs: 2500,
    });
    expect(tokenError(new TokenEndpointError('server_error', 'x', '', '90033', 503, undefined)).reason).toBe(
      'provider_unavailable',
    );
  });
});

describe('graphError', () => {
  it.each([
    [graph(404, 'MailboxNotEnabledForRESTAPI'), 'mailbox', 'mailbox_not_enabled'],
    [graph(404, 'ErrorInvalidUser'), 'mailbox', 'user_not_found'],
    [graph(404, 'Request_ResourceNotFound'), 'directory', 'user_not_found'],
    [
      graph(
        403,
        'ErrorAccessDenied',
        'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.',
      ),
      'mailbox',
      'insufficient_permissions',
    ],
    [graph(403, 'Authorization_RequestDenied'), 'directory', 'insufficient_permissions'],
    [graph(401, 'InvalidAuthenticationToken'), 'directory', 'invalid_credentials'],
    [graph(500, 'generalException'), 'directory', 'provider_unavailable'],
    [graph(503, 'ServiceNotAvailable'), 'mailbox', 'provider_unavailable'],
    [graph(-1, 'TimeoutError'), 'mailbox', 'provider_unavailable'],
    [graph(400, 'Directory_ExpiredPageToken'), 'directory', 'provider_unavailable'],
  ] as const)('%#: → %s', (err, kind, reason) => {
    expect(graphError(err, kind).reason).toBe(reason);
  });

  it('reads fractional Retry-After on 429', () => {
    const mapped = graphError(
      graph(429, 'TooManyRequests', 'Please retry again later.', { 'retry-after': '2.128' }),
      'mailbox',
    );
    expect(mapped).toMatchObject({ reason: 'rate_limited', retryAfterMs: 2128, retryable: true });
  });

  it('tells an access-policy denial from a token refusal', () => {
    const raop = graph(
      403,
      'ErrorAccessDenied',
      'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.',
    );
    expect(isAccessPolicyDenial(raop)).toBe(true);
    expect(isTokenRefusal(raop)).toBe(false);
    expect(
      isTokenRefusal(graph(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.')),
    ).toBe(true);
    expect(isTokenRefusal(graph(404, 'ErrorInvalidUser'))).toBe(false);
  });
});
