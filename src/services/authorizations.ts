import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { upsertProvisionedAccount } from '../db/queries/accounts.js';
import { findServiceAccount } from '../db/queries/service-accounts.js';
import { insertAuthorizationCode } from '../db/queries/tokens.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import { ForbiddenError, ValidationError } from '../errors.js';
import { hashToken, newOpaqueToken } from '../lib/crypto.js';
import { newId } from '../lib/ids.js';
import { checkOutboundUrl, OutboundUrlError } from '../lib/outbound-http.js';
import { type Mailbox, type MailboxCalendar, ProviderError } from '../providers/types.js';
import type { AppContext } from './context.js';
import { deliveryIdFor, storeDelivery } from './deliveries.js';
import { oauthErrorFor, REASON_DESCRIPTIONS, type ReasonCode } from './reasons.js';
import { scopeWithin, serviceAccountScopeAllows } from './scopes.js';
import { CODE_TTL_SECS } from './tokens.js';

export const MAX_AUTHORIZATIONS_PER_REQUEST = 1_000;

export const authorizationRequestSchema = z.object({
  email: z.email({ error: 'must be an email address' }).max(320),
  callback_url: z.string({ error: 'is required' }).min(1, 'is required').max(2048),
  scope: z.string({ error: 'is required' }).min(1, 'is required').max(1000),
  state: z.string().max(2048).nullish(),
});
export type AuthorizationRequest = z.infer<typeof authorizationRequestSchema>;

/** The job payload: ids and the request's own values only, never a secret. */
export const authorizationJobSchema = z.object({
  serviceAccountId: z.string().startsWith('ser_'),
  email: z.string().min(3).max(320),
  callbackUrl: z.string().max(2048),
  scope: z.string().max(1000),
  state: z.string().max(2048).nullable(),
  requestId: z.string().min(1).max(64),
});
export type AuthorizationJob = z.infer<typeof authorizationJobSchema>;

const emailKey = (email: string) =>
  createHash('sha256').update(email.toLowerCase()).digest('hex').slice(0, 24);

/** Deterministic id: the same email in the same request is one job, whatever happens. */
export const authorizationJobId = (p: AuthorizationJob) =>
  `authz-${p.serviceAccountId}-${emailKey(p.email)}-${p.requestId}`;

/**
 * `POST /v1/service_account_authorizations`: validates every entry (all or nothing), then queues one
 * job per email. Work and the callback happen asynchronously.
 */
export async function requestAuthorizations(
  app: AppContext,
  serviceAccount: ServiceAccount,
  tokenScope: string,
  entries: AuthorizationRequest[],
): Promise<{ queued: number }> {
  if (
    !serviceAccountScopeAllows(tokenScope, 'accounts') &&
    !serviceAccountScopeAllows(tokenScope, 'resources')
  ) {
    throw new ForbiddenError('The Service Account token lacks service_account/accounts/manage');
  }
  const fields: Record<string, string[]> = {};
  const seen = new Set<string>();
  for (const [i, entry] of entries.entries()) {
    const at = entries.length > 1 ? `service_account_authorizations[${i}].` : '';
    if (!scopeWithin(entry.scope, serviceAccount.delegatedScope)) {
      throw new ForbiddenError(
        `${at}scope "${entry.scope}" is not within the delegated scope "${serviceAccount.delegatedScope}"`,
      );
    }
    try {
      await checkOutboundUrl(entry.callback_url, app.config.outbound.allowPrivate);
    } catch (err) {
      fields[`${at}callback_url`] = [err instanceof OutboundUrlError ? err.message : 'is not a usable URL'];
    }
    const key = entry.email.toLowerCase();
    if (seen.has(key)) {
      fields[`${at}email`] = ['appears more than once in this request'];
    }
    seen.add(key);
  }
  if (Object.keys(fields).length > 0) {
    throw new ValidationError('Invalid service account authorization', fields);
  }
  const requestId = randomBytes(8).toString('hex');
  for (const entry of entries) {
    await app.enqueue('authorizations.process', {
      serviceAccountId: serviceAccount.id,
      email: entry.email,
      callbackUrl: entry.callback_url,
      scope: entry.scope,
      state: entry.state ?? null,
      requestId,
    });
  }
  return { queued: entries.length };
}

type Resolution =
  | { ok: true; mailbox: Mailbox; calendars: MailboxCalendar[] }
  | { ok: false; reason: ReasonCode; detail?: string };

async function resolveMailbox(
  app: AppContext,
  sa: ServiceAccount,
  email: string,
  signal: AbortSignal,
): Promise<Resolution> {
  const provider = app.providers.forServiceAccount(sa);
  const mailbox = await provider.findMailbox(email, signal);
  if (mailbox.suspended) {
    return { ok: false, reason: 'user_suspended' };
  }
  if (!mailbox.hasMailbox) {
    return { ok: false, reason: 'mailbox_not_enabled' };
  }
  const calendars = await provider.listCalendars(mailbox, signal);
  return { ok: true, mailbox, calendars };
}

/** A first Profile check between half and all of the interval from now, so checks spread out. */
export function firstCheckAt(intervalSecs: number): Date {
  return new Date(Date.now() + Math.round(intervalSecs * 1000 * (0.5 + Math.random() * 0.5)));
}

/**
 * The `authorizations.process` job: resolve the email, check the mailbox, create or re-use the
 * Account with its Profile and Calendars, mint a code and store the signed callback — all in one
 * transaction, keyed by the job so running it twice delivers one callback. Returns the delivery id
 * to send (also when a previous run of this job stored it but died before queueing the send).
 */
export async function processAuthorization(
  app: AppContext,
  job: AuthorizationJob,
  opts: { lastAttempt: boolean; signal: AbortSignal },
): Promise<string | undefined> {
  const sa = await findServiceAccount(app.db, job.serviceAccountId);
  const base = { state: job.state, email: job.email };
  let result: Resolution;
  if (!sa || sa.status === 'revoked') {
    result = { ok: false, reason: 'service_account_revoked' };
  } else if (!scopeWithin(job.scope, sa.delegatedScope)) {
    result = { ok: false, reason: 'scope_not_delegated' };
  } else {
    try {
      result = await resolveMailbox(app, sa, job.email, opts.signal);
    } catch (err) {
      if (!(err instanceof ProviderError) || (err.retryable && !opts.lastAttempt)) {
        throw err;
      }
      result = { ok: false, reason: err.reason, detail: err.message };
    }
  }
  const applicationId = sa?.applicationId;
  if (!applicationId) {
    // The Service Account is gone, and with it the Application's secrets to sign with.
    app.logger.warn(
      { serviceAccountId: job.serviceAccountId },
      'authorization for a deleted service account dropped',
    );
    return undefined;
  }
  const deliveryId = deliveryIdFor(authorizationJobId(job));
  const code = newOpaqueToken();
  const body = result.ok
    ? { authorization: { code, ...base } }
    : {
        authorization: {
          error: oauthErrorFor(result.reason),
          error_key: result.reason,
          error_description: REASON_DESCRIPTIONS[result.reason],
          ...base,
        },
      };
  await app.db.transaction(async (tx) => {
    const fresh = await storeDelivery(tx, app, {
      id: deliveryId,
      applicationId,
      kind: 'callback',
      url: job.callbackUrl,
      body,
    });
    if (!fresh || !result.ok || !sa) {
      return fresh;
    }
    const { account } = await upsertProvisionedAccount(
      tx,
      {
        applicationId,
        serviceAccountId: sa.id,
        provider: sa.provider,
        kind: result.mailbox.kind,
        email: result.mailbox.email,
        name: result.mailbox.name,
        providerId: result.mailbox.providerId,
        scope: job.scope,
        directoryEntryId: null,
        nextCheckAt: firstCheckAt(app.config.scheduler.profileCheckIntervalSecs),
        calendars: result.calendars,
      },
      { account: () => newId('account'), profile: () => newId('profile'), calendar: () => newId('calendar') },
    );
    await insertAuthorizationCode(tx, {
      id: newId('code'),
      applicationId,
      codeHash: hashToken(code),
      subjectType: 'account',
      accountId: account.id,
      serviceAccountId: null,
      redirectUri: job.callbackUrl,
      scope: job.scope,
      expiresAt: new Date(Date.now() + CODE_TTL_SECS * 1000),
    });
    return true;
  });
  return deliveryId;
}
