import { createHash } from 'node:crypto';
import { z } from 'zod';
import { upsertProvisionedAccount } from '../db/queries/accounts.js';
import {
  findAuthorizationRequest,
  insertAuthorizationRequests,
  lockAuthorizationRequest,
  markAuthorizationRequestDone,
} from '../db/queries/authorization-requests.js';
import { findServiceAccount, lockServiceAccountStatus } from '../db/queries/service-accounts.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import { describeError, ForbiddenError, ValidationError } from '../errors.js';
import type { AuthorizationJob } from '../jobs/catalog.js';
import { newId } from '../lib/ids.js';
import { checkOutboundUrls } from '../lib/outbound-http.js';
import { isProviderError, type Mailbox, type MailboxCalendar } from '../providers/types.js';
import type { AppContext } from './context.js';
import { deliveryIdFor, storeDelivery } from './deliveries.js';
import { oauthErrorFor, REASON_DESCRIPTIONS, type ReasonCode } from './reasons.js';
import { scopeWithin, serviceAccountScopeAllows } from './scopes.js';

export const MAX_AUTHORIZATIONS_PER_REQUEST = 1_000;
/** Distinct callback hosts one request may name (each is resolved before the request is answered). */
export const MAX_CALLBACK_HOSTS = 20;

const callbackHost = (raw: string) => {
  try {
    return new URL(raw).host.toLowerCase();
  } catch {
    return raw;
  }
};

export const authorizationRequestSchema = z.object({
  email: z.email({ error: 'must be an email address' }).max(320),
  callback_url: z.string({ error: 'is required' }).min(1, 'is required').max(2048),
  scope: z.string({ error: 'is required' }).min(1, 'is required').max(1000),
  state: z.string().max(2048).nullish(),
});
export type AuthorizationRequest = z.infer<typeof authorizationRequestSchema>;

/** The same ask posted again within this long (a client retrying after a timeout) is not repeated. */
export const AUTHORIZATION_DEDUPE_MS = 10 * 60_000;

/** What identifies an ask: the Service Account, the email (any case), where to call back, scope and state. */
const requestKeyOf = (serviceAccountId: string, e: AuthorizationRequest) =>
  createHash('sha256')
    .update(
      JSON.stringify([serviceAccountId, e.email.toLowerCase(), e.callback_url, e.scope, e.state ?? null]),
    )
    .digest('base64url');

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
  const callbackUrls = entries.map((e) => e.callback_url);
  if (new Set(callbackUrls.map(callbackHost)).size > MAX_CALLBACK_HOSTS) {
    throw new ValidationError('Invalid service account authorization', {
      service_account_authorizations: [
        `callback URLs name more than ${MAX_CALLBACK_HOSTS} different hosts; split the request`,
      ],
    });
  }
  // Every distinct host is resolved once, all at once, each within a deadline.
  const urlProblems = await checkOutboundUrls(callbackUrls, app.config.outbound.allowPrivate);
  const fields: Record<string, string[]> = {};
  const seen = new Set<string>();
  for (const [i, entry] of entries.entries()) {
    const at = entries.length > 1 ? `service_account_authorizations[${i}].` : '';
    if (!scopeWithin(entry.scope, serviceAccount.delegatedScope)) {
      throw new ForbiddenError(
        `${at}scope "${entry.scope}" is not within the delegated scope "${serviceAccount.delegatedScope}"`,
      );
    }
    const urlProblem = urlProblems.get(entry.callback_url);
    if (urlProblem) {
      fields[`${at}callback_url`] = [urlProblem];
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
  // Recorded before answering: from here on nothing is lost, whatever happens to the queue.
  const ids = await app.db.transaction((tx) =>
    insertAuthorizationRequests(
      tx,
      serviceAccount.id,
      entries.map((entry) => ({
        id: newId('authorizationRequest'),
        applicationId: serviceAccount.applicationId,
        serviceAccountId: serviceAccount.id,
        email: entry.email,
        callbackUrl: entry.callback_url,
        scope: entry.scope,
        state: entry.state ?? null,
        requestKey: requestKeyOf(serviceAccount.id, entry),
      })),
      AUTHORIZATION_DEDUPE_MS,
    ),
  );
  try {
    await app.enqueueBulk(
      'authorizations.process',
      ids.map((authorizationRequestId) => ({ authorizationRequestId })),
    );
  } catch (err) {
    // Recorded all the same: the reconciler queues them once Redis answers again.
    app.logger.warn({ err: describeError(err), requests: ids.length }, 'queueing authorizations failed');
  }
  return { queued: ids.length };
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
 * The `authorizations.process` job: resolve the email, check the mailbox, then in one transaction
 * create or re-use the Account with its Profile and Calendars, store the callback in the outbox (its
 * code is minted when it is sent) and mark the request done — so running it twice delivers one
 * callback. The transaction share-locks the Service Account: if it was revoked meanwhile, the
 * callback says so and no Account is touched.
 */
export async function processAuthorization(
  app: AppContext,
  job: AuthorizationJob,
  opts: { lastAttempt: boolean; signal: AbortSignal },
): Promise<void> {
  const req = await findAuthorizationRequest(app.db, job.authorizationRequestId);
  if (req?.status !== 'pending') {
    return;
  }
  const sa = await findServiceAccount(app.db, req.serviceAccountId);
  let result: Resolution;
  if (!sa || sa.status === 'revoked') {
    result = { ok: false, reason: 'service_account_revoked' };
  } else if (!scopeWithin(req.scope, sa.delegatedScope)) {
    result = { ok: false, reason: 'scope_not_delegated' };
  } else {
    try {
      result = await resolveMailbox(app, sa, req.email, opts.signal);
    } catch (err) {
      if (!opts.lastAttempt && (!isProviderError(err) || err.retryable)) {
        throw err;
      }
      // The last attempt always ends in a callback: an app waiting on this email hears why.
      result = isProviderError(err)
        ? { ok: false, reason: err.reason, detail: err.message }
        : { ok: false, reason: 'provider_unavailable', detail: describeError(err) };
    }
  }
  await app.db.transaction(async (tx) => {
    if ((await lockAuthorizationRequest(tx, req.id)) !== 'pending') {
      return; // Another run of this job got here first.
    }
    if (result.ok && sa) {
      const status = await lockServiceAccountStatus(tx, sa.id);
      if (status === undefined || status === 'revoked') {
        result = { ok: false, reason: 'service_account_revoked' };
      }
    }
    const base = { state: req.state, email: req.email };
    let accountId: string | null = null;
    if (result.ok && sa) {
      const { account } = await upsertProvisionedAccount(
        tx,
        {
          applicationId: req.applicationId,
          serviceAccountId: sa.id,
          provider: sa.provider,
          kind: result.mailbox.kind,
          email: result.mailbox.email,
          name: result.mailbox.name,
          providerId: result.mailbox.providerId,
          scope: req.scope,
          directoryEntryId: null,
          nextCheckAt: firstCheckAt(app.config.scheduler.profileCheckIntervalSecs),
          calendars: result.calendars,
        },
        {
          account: () => newId('account'),
          profile: () => newId('profile'),
          calendar: () => newId('calendar'),
        },
      );
      accountId = account.id;
    }
    await storeDelivery(tx, app, {
      id: deliveryIdFor(`authz:${req.id}`),
      applicationId: req.applicationId,
      kind: 'callback',
      url: req.callbackUrl,
      body: {
        authorization: result.ok
          ? base
          : {
              error: oauthErrorFor(result.reason),
              error_key: result.reason,
              error_description: REASON_DESCRIPTIONS[result.reason],
              ...base,
            },
      },
      accountId,
      codeScope: accountId ? req.scope : null,
    });
    await markAuthorizationRequestDone(tx, req.id);
  });
}
