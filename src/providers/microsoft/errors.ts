import { parseRetryAfter } from '../signals.js';
import {
  isProviderError,
  ProviderError,
  type ProviderFailure,
  type ProviderReason,
  providerError,
} from '../types.js';

/**
 * Microsoft failures → our reason codes (docs/providers.md has the table). The token endpoint's
 * errors arrive as msal-node `ServerError`s (`errorCode` = OAuth `error`, `errorNo` = the AADSTS
 * number, `status`); Graph's as graph-client `GraphError`s (`statusCode`, `code`, `headers`).
 */

type MsalErrorLike = {
  errorCode?: string;
  errorMessage?: string;
  errorNo?: string;
  status?: number;
  subError?: string;
  message?: string;
};
type GraphErrorLike = { statusCode?: number; code?: string | null; message?: string; headers?: Headers };

/** AADSTS numbers (providers.md §3.1). */
const AADSTS: Record<string, ProviderReason> = {
  // Wrong, missing or expired client secret; unknown app id or tenant: the credential as entered is wrong.
  '7000215': 'invalid_credentials',
  '7000216': 'invalid_credentials',
  '7000222': 'invalid_credentials',
  '700016': 'invalid_credentials',
  '90002': 'invalid_credentials',
  // The enterprise app was deleted from the tenant, or admin consent is missing.
  '7000229': 'consent_revoked',
  '65001': 'consent_revoked',
  '500011': 'consent_revoked',
  // Scope problems are ours to fix, but show up as missing permissions.
  '1002012': 'insufficient_permissions',
  '70011': 'insufficient_permissions',
};

function isMsalError(err: unknown): err is MsalErrorLike & Error {
  return err instanceof Error && typeof (err as MsalErrorLike).errorCode === 'string';
}

function isGraphError(err: unknown): err is GraphErrorLike & Error {
  return err instanceof Error && typeof (err as GraphErrorLike).statusCode === 'number';
}

/** A token-endpoint failure (an msal-node error). */
export function tokenError(err: unknown): ProviderFailure {
  if (isProviderError(err)) {
    return err;
  }
  if (!isMsalError(err)) {
    return new ProviderError('microsoft', 'provider_unavailable', `Token request failed: ${String(err)}`, {
      cause: err,
    });
  }
  const description = (err.errorMessage || err.message || err.errorCode || 'token request failed').split(
    '\r\n',
  )[0] as string;
  const status = err.status;
  const aadsts = err.errorNo ?? /AADSTS(\d+)/.exec(err.message ?? '')?.[1];
  let reason: ProviderReason;
  if (status === 429) {
    reason = 'rate_limited';
  } else if ((status !== undefined && status >= 500) || err.errorCode === 'network_error') {
    reason = 'provider_unavailable';
  } else if (aadsts !== undefined && AADSTS[aadsts]) {
    reason = AADSTS[aadsts];
  } else if (err.errorCode === 'invalid_client' || err.errorCode === 'unauthorized_client') {
    reason = 'invalid_credentials';
  } else {
    reason = 'invalid_credentials';
  }
  return providerError('microsoft', reason, description, {
    ...(status === undefined ? {} : { status }),
    ...(aadsts === undefined ? { providerCode: err.errorCode ?? '' } : { providerCode: `AADSTS${aadsts}` }),
    retryAfterMs: (err as { retryAfterMs?: number }).retryAfterMs,
    cause: err,
  });
}

/** Where the failing Graph call went: a 404 on a mailbox route is about that mailbox. */
export type GraphCallKind = 'directory' | 'mailbox';

export function graphError(err: unknown, kind: GraphCallKind): ProviderFailure {
  if (isProviderError(err)) {
    return err;
  }
  if (!isGraphError(err)) {
    return new ProviderError('microsoft', 'provider_unavailable', `Graph request failed: ${String(err)}`, {
      cause: err,
    });
  }
  const status = err.statusCode ?? -1;
  const code = err.code ?? '';
  const message = err.message || code || `Graph answered ${status}`;
  const reason = graphReason(status, code, kind);
  return providerError('microsoft', reason, message, {
    ...(status > 0 ? { status } : {}),
    ...(code ? { providerCode: code } : {}),
    retryAfterMs: reason === 'rate_limited' ? parseRetryAfter(err.headers?.get?.('retry-after')) : undefined,
    cause: err,
  });
}

function graphReason(status: number, code: string, kind: GraphCallKind): ProviderReason {
  if (status <= 0 || status === 408 || status >= 500) {
    // -1: no response (network error, timeout, abort).
    return 'provider_unavailable';
  }
  if (status === 429) {
    return 'rate_limited';
  }
  if (status === 401) {
    return 'invalid_credentials';
  }
  if (status === 403) {
    // An application access policy (RAOP / RBAC for Applications) leaves this mailbox out; a generic
    // denial or Authorization_RequestDenied means the app lacks a permission (index.ts first checks
    // whether consent was withdrawn altogether).
    return 'insufficient_permissions';
  }
  if (status === 404) {
    if (code === 'MailboxNotEnabledForRESTAPI' || code === 'MailboxNotSupportedForRESTAPI') {
      return 'mailbox_not_enabled';
    }
    return kind === 'mailbox' && code === 'ErrorItemNotFound' ? 'mailbox_not_enabled' : 'user_not_found';
  }
  // 400 (an expired page token, a bad query): nothing an admin can fix; the queue retries a few times.
  return 'provider_unavailable';
}

/** A 403 that names an application access policy: about this mailbox, not the whole app. */
export function isAccessPolicyDenial(err: unknown): boolean {
  const e = err as GraphErrorLike;
  return e?.statusCode === 403 && /AccessPolicy|RAOP|RBAC/i.test(e.message ?? '');
}

/** A 401/403 from Graph that may mean the cached token lost its permissions. */
export function isTokenRefusal(err: unknown): boolean {
  const e = err as GraphErrorLike;
  return (e?.statusCode === 401 || e?.statusCode === 403) && !isAccessPolicyDenial(err);
}
