import type { MailboxKind, ProviderName } from '../db/schema/columns.js';
import { REASONS } from '../lib/reasons.js';
import { GOOGLE_SCOPES } from '../providers/google/auth.js';
import { REASON_DESCRIPTIONS } from './reasons.js';

/**
 * The relink page's words: what a reason means, and what the organization's admin must do about it,
 * per provider (docs/providers.md, "what an admin should do").
 */

export type FixStep = { text: string; code?: string };
export type Fix = { who: string; steps: FixStep[] };

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

export type FixInput = {
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

/** What the organization's admin must do about `reason` (docs/providers.md, "what an admin should do"). */
export function fixFor(reason: string, f: FixInput): Fix {
  if ((REASONS as Record<string, { retryable: boolean } | undefined>)[reason]?.retryable) {
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
