import { claimProfileCheckNow, findProfileForCheck, PAUSED_CHECK_AT } from '../db/queries/profiles.js';
import type { MailboxKind, ProviderName } from '../db/schema/columns.js';
import { ServiceUnavailableError } from '../errors.js';
import { withDeadline } from '../lib/deadline.js';
import { GOOGLE_SCOPES } from '../providers/google/auth.js';
import { CHECK_LEASE_MS } from './backoff.js';
import type { AppContext } from './context.js';
import { REASON_DESCRIPTIONS } from './reasons.js';

/**
 * The relink page behind `profile_relink_url` (DESIGN §6): a Profile's state in words, what the
 * organization's admin must grant to fix it, and a rate-limited "check now". Whoever holds the URL may
 * use it, as with Cronofy's relink URL: the random Profile id in the path is the only credential.
 */

/** Profile ids as `newId('profile')` makes them (26 characters after `pro_`), with room to spare. */
const PROFILE_ID = /^pro_[a-z0-9_]{1,60}$/;

/** At most one requested check per Profile per this window, shared by every API process. Default 60 s. */
export const CHECK_NOW_INTERVAL_MS = 60_000;

export function isProfileId(value: string): boolean {
  return PROFILE_ID.test(value);
}

export type RelinkState = 'connected' | 'disconnected' | 'paused' | 'revoked';

/** One thing to do; `code` is text to copy (a value, a scope list, a command). */
export type FixStep = { text: string; code?: string };
export type Fix = { who: string; steps: FixStep[] };

export type RelinkView = {
  profileId: string;
  profileName: string;
  email: string;
  kind: MailboxKind;
  provider: ProviderName;
  domain: string;
  state: RelinkState;
  /** Why: the Profile's reason code (or, revoked, what was revoked). Null when connected. */
  reason: string | null;
  reasonDescription: string | null;
  disconnectedAt: Date | null;
  lastCheckedAt: Date | null;
  /** The next automatic check; paused Profiles: the Service Account's next health check. */
  nextCheckAt: Date | null;
  failureCount: number;
  fix: Fix | null;
  /** The last requested check, while its rate-limit window lasts. */
  checkNow: { queuedAt: Date | null; retryInSecs: number };
};

const rateKey = (app: Pick<AppContext, 'config'>, profileId: string) =>
  `${app.config.redis.queuePrefix}:relink-check:${profileId}`;

/** How long the relink page waits for Redis (the check-now window) before doing without it. */
const REDIS_WAIT_MS = 1_000;
const redisDown = () => new ServiceUnavailableError(5_000, 'Redis is not answering');

async function checkNowWindow(app: Pick<AppContext, 'config' | 'redis'>, profileId: string) {
  const read = app.redis().multi().get(rateKey(app, profileId)).pttl(rateKey(app, profileId)).exec();
  // Without Redis the page still shows the Profile; only the last check-now request is unknown.
  const answer = (await withDeadline(read, REDIS_WAIT_MS, redisDown).catch(() => null)) as
    | [[unknown, string | null], [unknown, number]]
    | null;
  if (!answer) {
    return { queuedAt: null, retryInSecs: 0 };
  }
  const [[, value], [, pttl]] = answer;
  const at = Number(value);
  return {
    queuedAt: value !== null && Number.isFinite(at) ? new Date(at) : null,
    retryInSecs: pttl > 0 ? Math.ceil(pttl / 1000) : 0,
  };
}

/** The relink page's content, or undefined for an id that names no Profile. */
export async function relinkView(
  app: Pick<AppContext, 'config' | 'db' | 'redis'>,
  profileId: string,
): Promise<RelinkView | undefined> {
  if (!isProfileId(profileId)) {
    return undefined;
  }
  const found = await findProfileForCheck(app.db, profileId);
  if (!found) {
    return undefined;
  }
  const { profile, account, serviceAccount: sa } = found;
  const revoked = account.status !== 'active' || sa.status === 'revoked' || profile.nextCheckAt === null;
  const paused =
    !revoked && (sa.status === 'broken' || profile.nextCheckAt?.getTime() === PAUSED_CHECK_AT.getTime());
  const state: RelinkState = revoked
    ? 'revoked'
    : paused
      ? 'paused'
      : profile.connected
        ? 'connected'
        : 'disconnected';
  const reason =
    state === 'revoked'
      ? sa.status === 'revoked'
        ? 'service_account_revoked'
        : account.status !== 'active'
          ? 'account_revoked'
          : 'profile_revoked'
      : profile.connected && !paused
        ? null
        : (profile.disconnectReason ?? sa.brokenReason ?? 'unknown');
  return {
    profileId: profile.id,
    profileName: profile.profileName,
    email: account.email,
    kind: account.kind,
    provider: profile.provider,
    domain: sa.domain,
    state,
    reason,
    reasonDescription: reason === null ? null : describeReason(reason),
    disconnectedAt: profile.connected ? null : profile.disconnectedAt,
    lastCheckedAt: profile.lastCheckedAt,
    nextCheckAt: revoked ? null : paused ? sa.nextHealthCheckAt : profile.nextCheckAt,
    failureCount: profile.failureCount,
    fix:
      reason === null || state === 'revoked'
        ? null
        : fixFor(reason, {
            provider: profile.provider,
            clientId: sa.providerClientId,
            domain: sa.domain,
            adminEmail: sa.adminEmail,
            tenantId: sa.tenantId,
            email: account.email,
            kind: account.kind,
          }),
    checkNow: await checkNowWindow(app, profile.id),
  };
}

export type CheckNowResult =
  | { outcome: 'queued' }
  | { outcome: 'rate_limited'; retryInSecs: number }
  | { outcome: 'not_checkable'; state: RelinkState }
  | { outcome: 'not_found' };

/**
 * "Check now": claims the Profile for an immediate `profiles.check`, at most once per
 * CHECK_NOW_INTERVAL_MS per Profile (a Redis `SET NX PX`, so every API process shares the window).
 * Revoked Profiles are never checked; paused ones wait for their Service Account's health check.
 */
export async function requestProfileCheck(
  app: Pick<AppContext, 'config' | 'db' | 'redis' | 'enqueue'>,
  profileId: string,
): Promise<CheckNowResult> {
  const view = await relinkView(app, profileId);
  if (!view) {
    return { outcome: 'not_found' };
  }
  if (view.state === 'revoked' || view.state === 'paused') {
    return { outcome: 'not_checkable', state: view.state };
  }
  const now = Date.now();
  const key = rateKey(app, profileId);
  const set = await withDeadline(
    app.redis().set(key, String(now), 'PX', CHECK_NOW_INTERVAL_MS, 'NX'),
    REDIS_WAIT_MS,
    redisDown,
  );
  if (set !== 'OK') {
    const pttl = await app.redis().pttl(key);
    return { outcome: 'rate_limited', retryInSecs: Math.max(1, Math.ceil(pttl / 1000)) };
  }
  try {
    const leaseUntil = new Date(now + CHECK_LEASE_MS);
    if (!(await claimProfileCheckNow(app.db, profileId, leaseUntil))) {
      // Revoked or paused since the page was read.
      await app.redis().del(key);
      return { outcome: 'not_checkable', state: 'revoked' };
    }
    // Round = this minute: one job per Profile per minute (the window puts two allowed requests in
    // different minutes), never the sweep's `check-<id>-<lease>`. If this enqueue is lost, the claim
    // lapses after CHECK_LEASE_MS and a sweep checks the Profile.
    await app.enqueue(
      'profiles.check',
      { profileId, leaseAt: leaseUntil.getTime() },
      { round: Math.floor(now / 60_000) },
    );
  } catch (err) {
    // Best effort: with Redis gone the window is gone too (or lapses after CHECK_NOW_INTERVAL_MS).
    await withDeadline(app.redis().del(key), REDIS_WAIT_MS, redisDown).catch(() => {});
    throw err;
  }
  return { outcome: 'queued' };
}

const REVOKED_DESCRIPTIONS: Record<string, string> = {
  account_revoked: 'The Account was revoked: this mailbox is no longer connected and is not checked any more',
  profile_revoked: 'The Profile was revoked: it is no longer checked',
};

/** The house description of a reason code (REASON_DESCRIPTIONS), plus the relink page's revocations. */
export function describeReason(reason: string): string {
  const revoked = REVOKED_DESCRIPTIONS[reason];
  if (revoked) {
    return revoked;
  }
  return (
    (REASON_DESCRIPTIONS as Record<string, string | undefined>)[reason] ??
    `Unrecognised reason code "${reason}"`
  );
}

type FixInput = {
  provider: ProviderName;
  clientId: string;
  domain: string;
  adminEmail: string | null;
  tenantId: string | null;
  email: string;
  kind: MailboxKind;
};

const GOOGLE_ALL_SCOPES = [...GOOGLE_SCOPES.directory, ...GOOGLE_SCOPES.calendar].join(',');
const MICROSOFT_PERMISSIONS = 'Calendars.Read, User.Read.All, Place.Read.All';
const TEMPORARY = new Set(['rate_limited', 'provider_unavailable']);

/** What the organization's admin must do about `reason` (docs/providers.md, "what an admin should do"). */
export function fixFor(reason: string, f: FixInput): Fix {
  if (TEMPORARY.has(reason)) {
    return {
      who: 'Nobody: this is temporary.',
      steps: [{ text: 'The Profile is re-checked automatically with backoff; it reconnects by itself.' }],
    };
  }
  if (reason === 'service_account_revoked') {
    return {
      who: 'The organization’s admin, through the Application that connected it.',
      steps: [
        {
          text: 'The organization’s connection (the Service Account) was removed. Connect the organization again from the Application; the Application then connects this mailbox again.',
        },
      ],
    };
  }
  return f.provider === 'google' ? googleFix(reason, f) : microsoftFix(reason, f);
}

function googleFix(reason: string, f: FixInput): Fix {
  const who = `A super administrator of the Google Workspace domain ${f.domain}.`;
  const delegation: FixStep[] = [
    {
      text: 'Google Admin console (admin.google.com) → Security → Access and data control → API controls → Manage Domain Wide Delegation → Add new (or edit the existing entry for this client ID). Client ID:',
      code: f.clientId,
    },
    { text: 'OAuth scopes (all three, comma-separated):', code: GOOGLE_ALL_SCOPES },
    {
      text: 'Authorize. Google can take from a few minutes up to 24 hours to apply it; then use “Check now”.',
    },
  ];
  switch (reason) {
    case 'delegation_not_granted':
    case 'consent_revoked':
      return { who, steps: delegation };
    case 'user_suspended':
      return {
        who,
        steps: [
          {
            text: `Admin console → Directory → Users → ${f.email}: the user is suspended (or archived). Reactivate the user (or unarchive it); a suspended user cannot be impersonated.`,
          },
          {
            text: 'If the person left the organization, there is nothing to fix: the Application can revoke the Account.',
          },
        ],
      };
    case 'user_not_found':
      return {
        who,
        steps: [
          {
            text: `Admin console → Directory → Users: ${f.email} is not a user or room of the domain any more. A user deleted in the last 20 days can be restored there; a renamed user must be connected again under the new address.`,
          },
        ],
      };
    case 'mailbox_not_enabled':
      return {
        who,
        steps:
          f.kind === 'room'
            ? [
                {
                  text: `The room’s calendar is read as the admin ${f.adminEmail ?? '(the Service Account’s admin user)'}: that admin must be able to see the room in Google Calendar (Admin console → Directory → Buildings and resources → Manage resources), and Calendar must be on for the admin’s organizational unit.`,
                },
              ]
            : [
                {
                  text: `Admin console → Directory → Users → ${f.email} → Licenses: assign a Google Workspace licence that includes Google Calendar.`,
                },
                {
                  text: 'Admin console → Apps → Google Workspace → Calendar → Service status: Calendar must be ON for the user’s organizational unit.',
                },
              ],
      };
    case 'invalid_credentials':
      return {
        who: `The Google Cloud project owner of the service account, and a super administrator of ${f.domain}.`,
        steps: [
          {
            text: 'The service-account key was deleted, disabled or has expired, or the service account itself was deleted. Google Cloud console → IAM & Admin → Service accounts → the service account → Keys → Add key → JSON, then give the new key to the Application (it replaces the Service Account’s credential in place).',
          },
          {
            text: `Check that the admin user ${f.adminEmail ?? ''} the service account impersonates still exists, is not suspended, and is still an administrator.`,
          },
        ],
      };
    case 'insufficient_permissions':
      return {
        who,
        steps: [
          {
            text: `The admin user ${f.adminEmail ?? '(the Service Account’s admin user)'} must be allowed to read the directory: make it a super administrator, or give its role the privileges Admin API → Users → Read and Services → Calendar → Calendar resources → Read (Admin console → Account → Admin roles).`,
          },
          ...delegation,
        ],
      };
    default:
      return { who, steps: delegation };
  }
}

function microsoftFix(reason: string, f: FixInput): Fix {
  const tenant = f.tenantId ?? f.domain;
  const consent: FixStep[] = [
    {
      text: `Microsoft Entra admin center (entra.microsoft.com) → Identity → Applications → App registrations → the application with this Application (client) ID → API permissions: the Microsoft Graph application permissions ${MICROSOFT_PERMISSIONS} (Calendars.ReadWrite instead of Calendars.Read if the Application writes events), then “Grant admin consent for” the organization. Client ID:`,
      code: f.clientId,
    },
    {
      text: 'If the application was deleted from the tenant (Enterprise applications), consent again as a Global Administrator at:',
      code: `https://login.microsoftonline.com/${tenant}/adminconsent?client_id=${f.clientId}`,
    },
  ];
  const accessPolicy: FixStep[] = [
    {
      text: `If every permission above is granted, the mailbox is outside the Exchange Online application access policy of this application. In Exchange Online PowerShell (Connect-ExchangeOnline), test it; “AccessCheckResult : Denied” means the policy excludes ${f.email}:`,
      code: `Test-ApplicationAccessPolicy -Identity ${f.email} -AppId ${f.clientId}`,
    },
    {
      text: 'Add the mailbox to the mail-enabled security group the policy is scoped to, or, if the application has no policy yet, create one for a group that contains it:',
      code: `Add-DistributionGroupMember -Identity <policy group> -Member ${f.email}\nNew-ApplicationAccessPolicy -AppId ${f.clientId} -PolicyScopeGroupId <policy group> -AccessRight RestrictAccess -Description "Enterprise Connect"`,
    },
    {
      text: 'Policy changes can take an hour or more to reach Microsoft Graph. Tenants that moved to RBAC for Applications scope the app with New-ManagementRoleAssignment -App … -CustomResourceScope instead; Test-ServicePrincipalAuthorization checks a mailbox.',
    },
  ];
  const entraAdmin = 'A Global Administrator (or Privileged Role Administrator) of the Microsoft 365 tenant.';
  switch (reason) {
    case 'consent_revoked':
    case 'delegation_not_granted':
      return { who: entraAdmin, steps: consent };
    case 'insufficient_permissions':
      return {
        who: `${entraAdmin} For the access policy: an Exchange Administrator.`,
        steps: [...consent, ...accessPolicy],
      };
    case 'mailbox_not_enabled':
      return {
        who: 'A User Administrator or License Administrator of the Microsoft 365 tenant.',
        steps: [
          {
            text: `${f.email} has no Exchange Online mailbox: unlicensed, inactive, soft-deleted, or still on-premises. Microsoft 365 admin center → Users → Active users → ${f.email} → Licenses and apps: assign a licence that includes Exchange Online; the mailbox is created within minutes.`,
          },
          {
            text: 'A mailbox still hosted on an on-premises Exchange server must be moved to Exchange Online. Room and shared mailboxes need no licence: check that the mailbox exists in the Exchange admin center.',
          },
        ],
      };
    case 'user_suspended':
      return {
        who: 'A User Administrator of the Microsoft 365 tenant.',
        steps: [
          {
            text: `Sign-in is blocked for ${f.email}. Microsoft 365 admin center → Users → Active users → ${f.email} → Unblock sign-in (Entra: Account enabled = Yes).`,
          },
          {
            text: 'If the person left the organization, there is nothing to fix: the Application can revoke the Account.',
          },
        ],
      };
    case 'user_not_found':
      return {
        who: 'A User Administrator of the Microsoft 365 tenant.',
        steps: [
          {
            text: `${f.email} is not a user, room or shared mailbox of the tenant any more. A user deleted in the last 30 days can be restored in Microsoft 365 admin center → Users → Deleted users; a renamed user must be connected again under the new address.`,
          },
        ],
      };
    case 'invalid_credentials':
      return {
        who: entraAdmin,
        steps: [
          {
            text: 'The client secret is wrong or has expired, or the tenant or client ID is wrong. Entra admin center → App registrations → the application → Certificates & secrets → New client secret, then give the new secret value (not its ID) to the Application (it replaces the Service Account’s credential in place). Client ID:',
            code: f.clientId,
          },
        ],
      };
    default:
      return { who: entraAdmin, steps: [...consent, ...accessPolicy] };
  }
}
