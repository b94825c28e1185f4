import { googleDelegationScopes } from '../providers/google/probe.js';
import { isPolicyRefusal, MICROSOFT_CHECK_PERMISSIONS } from '../providers/microsoft/probe.js';
import type { PermissionCheck } from '../providers/probe.js';
import type { ProviderFailure, ServiceCredentials } from '../providers/types.js';

/**
 * The one fix table: what an organization's admin must do about a provider's refusal, in which
 * console or with which PowerShell command. Used by the live permission check (`ec doctor`, the
 * diagnostics endpoint, /admin) for each failed check, and by registration (`POST
 * /v1/service_accounts`, the authorize page) for the refusal of its live check. docs/setup-google.md
 * and docs/setup-microsoft.md walk through the same steps.
 */

export type FixContext = {
  provider: 'google' | 'microsoft';
  domain: string;
  /** Google: the service account's client ID (what domain-wide delegation lists); Microsoft: the app id. */
  clientId: string;
  /** Google: the service account's email. */
  clientEmail?: string | undefined;
  adminEmail?: string | null | undefined;
  tenantId?: string | null | undefined;
  /** What the check tried: a scope, a Graph permission, a mailbox. */
  target?: string | undefined;
};

const GRAPH_PERMISSIONS =
  'User.Read.All, Place.Read.All, Calendars.Read, GroupMember.Read.All, Domain.Read.All, MailboxSettings.Read';
const TEMPORARY =
  'Temporary (the provider throttled or could not be reached): run the check again in a few minutes.';

/** The fix for a failed check (or a refused registration, as `directory_users`). */
export function fixFor(check: PermissionCheck, err: ProviderFailure, ctx: FixContext): string {
  if (err.reason === 'rate_limited' || err.reason === 'provider_unavailable') {
    return TEMPORARY;
  }
  return ctx.provider === 'google' ? googleFix(check, err, ctx) : microsoftFix(check, err, ctx);
}

/** The fix for a registration's live check (a token and one directory page) that the provider refused. */
export function registrationFix(err: ProviderFailure, ctx: FixContext): string {
  return fixFor(err.context.providerCode === 'unauthorized_client' ? 'token' : 'directory_users', err, ctx);
}

const ADMIN_CONSOLE_DWD =
  'Google Admin console (admin.google.com) → Security → Access and data control → API controls → Manage Domain Wide Delegation';

function googleFix(check: PermissionCheck, err: ProviderFailure, ctx: FixContext): string {
  const code = err.context.providerCode;
  const admin = ctx.adminEmail ?? 'the admin user';
  if (code === 'accessNotConfigured' || /has not been used in project|is disabled/i.test(err.message)) {
    const api =
      check === 'calendar_user' || check === 'calendar_room' ? 'Google Calendar API' : 'Admin SDK API';
    const url = /https:\/\/console\.developers\.google\.com\/apis\/api\/\S+?project=\d+/.exec(
      err.message,
    )?.[0];
    return `The ${api} is not enabled in the service account's Google Cloud project: Google Cloud console → APIs & Services → Library → "${api}" → Enable${url ? ` (${url})` : ''}, wait a few minutes, then check again.`;
  }
  const scopes = googleDelegationScopes().join(',');
  switch (err.reason) {
    case 'delegation_not_granted':
      if (check === 'token') {
        return `Domain-wide delegation is not granted to client ID ${ctx.clientId} for every scope the product asks for. ${ADMIN_CONSOLE_DWD} → Add new (or edit ${ctx.clientId}) → OAuth scopes: ${scopes} → Authorize (as a super administrator; it can take a few minutes, rarely up to 24 hours). The lines below name the scope that is missing.`;
      }
      return `The domain-wide delegation of client ID ${ctx.clientId} does not include ${ctx.target ?? 'this scope'}. ${ADMIN_CONSOLE_DWD} → ${ctx.clientId} → Edit → add ${ctx.target ?? 'the scope'} (the full list: ${scopes}) → Authorize.`;
    case 'invalid_credentials':
      if (/admin user cannot be impersonated/i.test(err.message)) {
        return `The admin user ${admin} does not exist or is suspended: register the Service Account with an active administrator (Admin console → Directory → Users).`;
      }
      return `Google refused the service-account key (deleted, disabled, expired or for another service account). Google Cloud console → IAM & Admin → Service accounts → ${ctx.clientEmail ?? 'the service account'} → Keys → Add key → Create new key → JSON, then replace the Service Account's credential (PATCH /v1/service_accounts/{id}). If key creation is refused, the organization policy iam.disableServiceAccountKeyCreation (or iam.managed.disableServiceAccountKeyCreation) is enforced: an Organization Policy Administrator must allow keys for this project (IAM & Admin → Organization Policies).`;
    case 'user_not_found':
      return check === 'calendar_user'
        ? `${ctx.target ?? 'The sample user'} cannot be impersonated (deleted or suspended): try another mailbox with --mailbox.`
        : `The admin user ${admin} does not exist: register the Service Account with an active administrator's email.`;
    case 'user_suspended':
      return `${ctx.target ?? 'The sample user'} is suspended or archived: try another mailbox with --mailbox.`;
    case 'mailbox_not_enabled':
      return check === 'calendar_room'
        ? `The admin ${admin} cannot see the room's calendar ${ctx.target ?? ''}: Admin console → Directory → Buildings and resources → Manage resources → check the room exists, and Apps → Google Workspace → Calendar must be ON for the admin's organizational unit.`
        : `${ctx.target ?? 'The user'} has no Google Calendar: Admin console → Directory → Users → the user → Licenses (a Workspace licence with Calendar), and Apps → Google Workspace → Calendar → Service status ON for the user's organizational unit.`;
    case 'insufficient_permissions':
      if (code === 'insufficientPermissions') {
        return `The token lacks the scope ${ctx.target ?? ''}: add it to the domain-wide delegation (${ADMIN_CONSOLE_DWD} → ${ctx.clientId}).`;
      }
      return `The admin user ${admin} is not allowed to ${googleWhat(check)} ("${err.message}"): make it a super administrator, or give its role (Admin console → Account → Admin roles → the role → Privileges) the Admin API privilege ${googlePrivilege(check)}.`;
    default:
      return `${ADMIN_CONSOLE_DWD} → ${ctx.clientId}: check the scopes (${scopes}).`;
  }
}

function googleWhat(check: PermissionCheck): string {
  switch (check) {
    case 'groups':
      return 'read groups';
    case 'rooms':
    case 'buildings':
      return 'read calendar resources and buildings';
    default:
      return 'read users';
  }
}

function googlePrivilege(check: PermissionCheck): string {
  switch (check) {
    case 'groups':
      return 'Admin API privileges → Groups → Read';
    case 'rooms':
    case 'buildings':
      return 'Services → Calendar → Calendar resources (and Admin API privileges → Domain Settings, for buildings)';
    default:
      return 'Admin API privileges → Users → Read';
  }
}

function microsoftFix(check: PermissionCheck, err: ProviderFailure, ctx: FixContext): string {
  const tenant = ctx.tenantId ?? ctx.domain;
  const code = err.context.providerCode ?? '';
  const appRegistration = `Microsoft Entra admin center (entra.microsoft.com) → App registrations → the app ${ctx.clientId}`;
  const consent = `${appRegistration} → API permissions → Add a permission → Microsoft Graph → Application permissions: ${GRAPH_PERMISSIONS} → Grant admin consent for the organization (a Global Administrator or Privileged Role Administrator), or open https://login.microsoftonline.com/${tenant}/adminconsent?client_id=${ctx.clientId}`;
  if (isPolicyRefusal(err)) {
    const mailbox = ctx.target?.includes('@') ? ctx.target : '<mailbox>';
    return `An Exchange Online application access policy (or RBAC for Applications scope) leaves ${mailbox} out. In Exchange Online PowerShell (Connect-ExchangeOnline): Test-ApplicationAccessPolicy -Identity ${mailbox} -AppId ${ctx.clientId} ("AccessCheckResult : Denied" confirms it); then add the mailbox to the policy's mail-enabled security group (Add-DistributionGroupMember -Identity <group> -Member ${mailbox}) or scope the policy to a group that holds every user and room to connect: New-ApplicationAccessPolicy -AppId ${ctx.clientId} -PolicyScopeGroupId <group> -AccessRight RestrictAccess -Description "Enterprise Connect". With RBAC for Applications: New-ManagementRoleAssignment -App <service principal id> -Role "Application Calendars.Read" -CustomResourceScope <scope>, checked with Test-ServicePrincipalAuthorization -Identity <service principal id> -Resource ${mailbox}. Changes can take an hour to reach Graph.`;
  }
  switch (err.reason) {
    case 'invalid_credentials':
      if (code === 'AADSTS7000222') {
        return `The client secret has expired. ${appRegistration} → Certificates & secrets → New client secret (note its expiry), then replace the Service Account's credential with the new secret's Value (PATCH /v1/service_accounts/{id}).`;
      }
      if (code === 'AADSTS700016') {
        return `No app with client ID ${ctx.clientId} is registered in (or consented to by) the tenant ${tenant}: check the Application (client) ID and the Directory (tenant) ID on the app's Overview page, and grant admin consent in that tenant.`;
      }
      if (code === 'AADSTS90002') {
        return `The tenant ${tenant} does not exist: use the Directory (tenant) ID from Entra admin center → Overview.`;
      }
      return `The client secret is wrong: ${appRegistration} → Certificates & secrets → New client secret, and give its Value (not its Secret ID).`;
    case 'consent_revoked':
    case 'delegation_not_granted':
      return `The app has no admin-consented application permissions in the tenant. ${consent}.`;
    case 'user_not_found':
    case 'user_suspended':
      return `${ctx.target ?? 'The sample mailbox'} cannot be read (${err.reason}): try another mailbox with --mailbox.`;
    case 'mailbox_not_enabled':
      return `${ctx.target ?? 'The mailbox'} has no Exchange Online mailbox (unlicensed, inactive or on-premises): Microsoft 365 admin center → Users → Active users → Licenses and apps (a licence with Exchange Online), or try another mailbox with --mailbox.`;
    default: {
      const permission = (MICROSOFT_CHECK_PERMISSIONS as Record<string, string | undefined>)[check];
      return permission
        ? `The app lacks the Microsoft Graph application permission ${permission}${check === 'groups' ? ' (or Group.Read.All)' : ''} ("${err.message}"): ${appRegistration} → API permissions → Add a permission → Microsoft Graph → Application permissions → ${permission} → Grant admin consent for the organization.`
        : `${consent}.`;
    }
  }
}

/** The fix context of credentials being registered (no Service Account stored yet). */
export function credentialFixContext(credentials: ServiceCredentials): FixContext {
  return credentials.provider === 'google'
    ? {
        provider: 'google',
        domain: credentials.domain,
        clientId: credentials.key.client_id ?? credentials.key.client_email,
        clientEmail: credentials.key.client_email,
        adminEmail: credentials.adminEmail,
      }
    : {
        provider: 'microsoft',
        domain: credentials.domain,
        clientId: credentials.clientId,
        tenantId: credentials.tenantId,
      };
}
