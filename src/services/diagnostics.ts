import { findServiceAccount } from '../db/queries/service-accounts.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import { ValidationError } from '../errors.js';
import { PERMISSION_CHECKS, type PermissionCheck, type ProbeResult } from '../providers/probe.js';
import type { ProviderFailure } from '../providers/types.js';
import type { AppContext } from './context.js';
import { effectiveExpiry, readProviderExpiry } from './credential-expiry.js';
import { type FixContext, fixFor } from './fixes.js';
import { EXPIRY_WARNING_DAYS, storedCredentials } from './service-accounts.js';

/** The checks, in report order (the API's `check` values). */
export { PERMISSION_CHECKS };

/**
 * The live permission check of a Service Account (`ec doctor`, `GET /v1/service_accounts/{id}/diagnostics`,
 * the /admin page): every permission the product needs, one line each — ok, or the provider's answer
 * and the fix.
 */

export type CheckStatus = 'ok' | 'failed' | 'warning' | 'skipped';

export type DiagnosticCheck = {
  check: PermissionCheck;
  status: CheckStatus;
  /** What was tried: a scope, a Graph permission, a mailbox. */
  target: string;
  /** What happened, in words (the provider's answer when it refused). */
  detail: string;
  /** The reason code of a refusal (lib/reasons.ts), else null. */
  reason: string | null;
  /** The provider's own error code (`unauthorized_client`, `accessNotConfigured`, `AADSTS7000222`, `ErrorAccessDenied`, …). */
  provider_code: string | null;
  /** What the organization's admin must do, for a failure or a warning; else null. */
  fix: string | null;
};

export type Diagnostics = {
  service_account_id: string;
  provider_name: 'google' | 'microsoft';
  domain: string;
  checked_at: string;
  /** True when no check failed (warnings and skipped checks allowed). */
  ok: boolean;
  checks: DiagnosticCheck[];
};

/** How long one check of every permission may take in all (the API's requests are cut at 30 s). Default 20,000 ms. */
export const DIAGNOSTICS_DEADLINE_MS = 20_000;

const EMAIL = /^[^@\s\0]{1,64}@[^@\s\0]{1,255}$/;

export function fixContextOf(app: Pick<AppContext, 'keyring'>, sa: ServiceAccount): FixContext {
  const credentials = storedCredentials(app, sa);
  return {
    provider: sa.provider,
    domain: sa.domain,
    clientId:
      credentials.provider === 'google'
        ? (credentials.key.client_id ?? credentials.key.client_email)
        : credentials.clientId,
    clientEmail: credentials.provider === 'google' ? credentials.key.client_email : undefined,
    adminEmail: sa.adminEmail,
    tenantId: sa.tenantId,
  };
}

function line(result: ProbeResult, ctx: FixContext): DiagnosticCheck {
  const o = result.outcome;
  const failure: ProviderFailure | undefined =
    o.status === 'failed' ? o.error : o.status === 'warning' ? o.error : undefined;
  return {
    check: result.check,
    status: o.status,
    target: result.target,
    detail: o.status === 'failed' ? o.error.message : o.detail,
    reason: failure?.reason ?? null,
    provider_code: (failure?.context.providerCode as string | undefined) ?? null,
    fix: failure ? fixFor(result.check, failure, { ...ctx, target: result.target || undefined }) : null,
  };
}

/** Runs every check against the provider now. `mailbox`: the sample user to read (default: one listed). */
export async function diagnoseServiceAccount(
  app: AppContext,
  sa: ServiceAccount,
  opts: {
    mailbox?: string | undefined;
    signal?: AbortSignal | undefined;
    /** Without a signal: the whole check's deadline. Default DIAGNOSTICS_DEADLINE_MS. */
    deadlineMs?: number | undefined;
    now?: Date;
  } = {},
): Promise<Diagnostics> {
  if (opts.mailbox !== undefined && !EMAIL.test(opts.mailbox)) {
    throw new ValidationError('Invalid mailbox', { mailbox: ['must be an email address'] });
  }
  if (sa.status === 'revoked') {
    throw new ValidationError('The Service Account is revoked', { service_account: ['is revoked'] });
  }
  const ctx = fixContextOf(app, sa);
  const probe = app.providers.probe(storedCredentials(app, sa), sa.id);
  try {
    // One deadline for every call, so a slow provider cannot hold an API request past its timeout:
    // what is still waiting then fails as provider_unavailable ("run the check again").
    const signal = opts.signal ?? AbortSignal.timeout(opts.deadlineMs ?? DIAGNOSTICS_DEADLINE_MS);
    const results = await probe.run({ sampleMailbox: opts.mailbox, signal });
    const checks = results.map((r) => line(r, ctx));
    checks.push(await expiryCheck(app, sa, ctx, probe, opts.now ?? new Date()));
    checks.sort((a, b) => PERMISSION_CHECKS.indexOf(a.check) - PERMISSION_CHECKS.indexOf(b.check));
    return {
      service_account_id: sa.id,
      provider_name: sa.provider,
      domain: sa.domain,
      checked_at: (opts.now ?? new Date()).toISOString(),
      ok: checks.every((c) => c.status !== 'failed'),
      checks,
    };
  } finally {
    await probe.close();
  }
}

async function expiryCheck(
  app: AppContext,
  sa: ServiceAccount,
  ctx: FixContext,
  probe: Parameters<typeof readProviderExpiry>[2],
  now: Date,
): Promise<DiagnosticCheck> {
  const base = { check: 'credential_expiry' as const, reason: null, provider_code: null };
  let providerAt = sa.providerCredentialExpiresAt;
  let refusal: ProviderFailure | undefined;
  if (sa.provider === 'microsoft') {
    const read = await readProviderExpiry(app, sa, probe);
    refusal = read.error;
    // On a refusal the date read before (if any) stays the best known.
    providerAt = read.error ? providerAt : read.at;
  }
  const expiry = effectiveExpiry({
    providerCredentialExpiresAt: providerAt,
    credentialExpiresAt: sa.credentialExpiresAt,
  });
  const target = sa.provider === 'microsoft' ? 'Application.Read.All' : 'credential_expires_at';
  if (!expiry) {
    if (refusal) {
      return {
        ...base,
        status: 'warning',
        target,
        detail: `The client secret's end date cannot be read (${refusal.message}) and no credential_expires_at was given`,
        reason: refusal.reason,
        provider_code: (refusal.context.providerCode as string | undefined) ?? null,
        fix: `${fixFor('credential_expiry', refusal, { ...ctx, target })} Or give the secret's expiry as credential_expires_at when registering the Service Account.`,
      };
    }
    return {
      ...base,
      status: 'skipped',
      target,
      detail:
        sa.provider === 'google'
          ? 'No expiry known: Google service-account keys do not expire unless the organization policy iam.serviceAccountKeyExpiryHours says so (then give credential_expires_at)'
          : 'The app has no client secret with an end date',
      fix: null,
    };
  }
  const days = Math.floor((expiry.at.getTime() - now.getTime()) / 86_400_000);
  const where = expiry.source === 'provider' ? 'per Microsoft Graph' : 'as given at registration';
  if (refusal) {
    return {
      ...base,
      status: 'warning',
      target,
      detail: `The client secret's end date could not be read again (${refusal.message}); the last known end date is ${expiry.at.toISOString()} (${where === 'per Microsoft Graph' ? 'read from Graph earlier' : where})`,
      reason: refusal.reason,
      provider_code: (refusal.context.providerCode as string | undefined) ?? null,
      fix: `${fixFor('credential_expiry', refusal, { ...ctx, target })} Or give the secret's expiry as credential_expires_at when registering the Service Account.`,
    };
  }
  const renew =
    sa.provider === 'microsoft'
      ? `Entra admin center → App registrations → ${ctx.clientId} → Certificates & secrets → New client secret, then replace the Service Account's credential with it (PATCH /v1/service_accounts/${sa.id}).`
      : `Google Cloud console → IAM & Admin → Service accounts → ${ctx.clientEmail ?? 'the service account'} → Keys → Add key, then replace the Service Account's credential (PATCH /v1/service_accounts/${sa.id}).`;
  if (days < 0) {
    return {
      ...base,
      status: 'failed',
      target,
      detail: `The credential expired on ${expiry.at.toISOString()} (${where})`,
      reason: 'invalid_credentials',
      fix: renew,
    };
  }
  if (days <= EXPIRY_WARNING_DAYS) {
    return {
      ...base,
      status: 'warning',
      target,
      detail: `The credential expires in ${days} day(s), on ${expiry.at.toISOString()} (${where})`,
      fix: renew,
    };
  }
  return {
    ...base,
    status: 'ok',
    target,
    detail: `The credential expires on ${expiry.at.toISOString()} (${where}), in ${days} days`,
    fix: null,
  };
}

/** One line per check, as `ec doctor` prints it. */
export function formatDiagnostics(d: Diagnostics): string {
  const out: string[] = [
    `${d.service_account_id} (${d.provider_name}, ${d.domain}) checked at ${d.checked_at}`,
  ];
  const width = Math.max(...d.checks.map((c) => c.check.length));
  for (const c of d.checks) {
    const mark =
      c.status === 'ok' ? 'ok  ' : c.status === 'failed' ? 'FAIL' : c.status === 'warning' ? 'WARN' : 'skip';
    const answer =
      c.status === 'failed' || c.status === 'warning'
        ? `${c.reason ? `${c.reason}${c.provider_code ? ` (${c.provider_code})` : ''}: ` : ''}${c.detail}`
        : c.detail;
    const target = c.target ? ` [${c.target}]` : '';
    out.push(`${mark}  ${c.check.padEnd(width)}  ${answer}${target}${c.fix ? ` | fix: ${c.fix}` : ''}`);
  }
  const failed = d.checks.filter((c) => c.status === 'failed').length;
  out.push(failed === 0 ? 'All checks passed.' : `${failed} check(s) failed.`);
  return out.join('\n');
}

/** The check of any Service Account by id (the /admin page); undefined when there is none. */
export async function diagnoseServiceAccountById(
  app: AppContext,
  id: string,
  opts: { mailbox?: string | undefined } = {},
): Promise<Diagnostics | undefined> {
  const sa = await findServiceAccount(app.db, id);
  return sa ? diagnoseServiceAccount(app, sa, opts) : undefined;
}
