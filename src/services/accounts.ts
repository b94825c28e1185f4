import type { Db, DbOrTx } from '../db/client.js';
import {
  type AccountView,
  findAccountView,
  listCalendars,
  markAccountRevoked,
} from '../db/queries/accounts.js';
import { revokeSubjectTokens } from '../db/queries/tokens.js';
import { NotFoundError } from '../errors.js';

/** Revokes an Account: its tokens stop working, its Profile is no longer checked. */
export async function revokeAccount(db: Db, applicationId: string, accountId: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const found = await markAccountRevoked(tx, applicationId, accountId);
    if (found) {
      await revokeSubjectTokens(tx, applicationId, { accountId });
    }
    return found;
  });
}

/** Cronofy's names for a Profile's provider (userinfo, the token response's `linking_profile`). */
export const providerNames = (provider: string) =>
  provider === 'google'
    ? { provider_name: 'google', provider_service: 'gsuite' }
    : { provider_name: 'exchange', provider_service: 'office365' };

/** The Account's identity views with Cronofy's field names (userinfo, account, profiles, calendars). */
export async function accountViews(db: DbOrTx, accountId: string, publicUrl: string, known?: AccountView) {
  const view = known?.account.id === accountId ? known : await findAccountView(db, accountId);
  if (view?.account.status !== 'active') {
    throw new NotFoundError('Account', accountId);
  }
  const { account, profile } = view;
  const cals = view.calendars ?? (await listCalendars(db, accountId));
  // Explicit fields rather than a leading `...names`: on Node 20 every property an object literal adds
  // after a leading spread is a runtime call (about a microsecond each), and userinfo builds these
  // objects on every request.
  const { provider_name, provider_service } = providerNames(profile.provider);
  const profileJson = {
    provider_name,
    provider_service,
    profile_id: profile.id,
    profile_name: profile.profileName,
    profile_connected: profile.connected,
    profile_initial_sync_required: false,
    ...(profile.connected
      ? {}
      : {
          profile_relink_url: `${publicUrl}/relink/${profile.id}`,
          profile_disconnect_reason: profile.disconnectReason,
        }),
  };
  const calendarsJson = cals.map((c) => ({
    provider_name,
    provider_service,
    profile_id: profile.id,
    profile_name: profile.profileName,
    calendar_id: c.id,
    calendar_name: c.name,
    calendar_readonly: c.readonly,
    calendar_deleted: false,
    calendar_primary: c.primary,
    calendar_integrated_conferencing_available: false,
    calendar_attachments_available: false,
    permission_level: c.readonly ? 'read_only' : 'unrestricted',
  }));
  return {
    account,
    profile,
    profileJson,
    calendarsJson,
    userinfo: {
      sub: account.id,
      email: account.email,
      name: account.name,
      zoneinfo: null,
      'cronofy.type': 'account',
      'cronofy.data': {
        authorization: { scope: account.scope, status: 'active' },
        profiles: [Object.assign({}, profileJson, { profile_calendars: calendarsJson })],
      },
    },
  };
}
