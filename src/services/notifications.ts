import type { DbOrTx } from '../db/client.js';
import { listOpenChannelsOf } from '../db/queries/channels.js';
import type { Channel } from '../db/schema/channels.js';
import type { AppContext } from './context.js';
import { deliveryIdFor, storeDelivery } from './deliveries.js';

/**
 * Push notifications to an Account's Channels, in Cronofy's shape:
 * `{notification: {type, changes_since?, …}, channel: {channel_id, callback_url, filters}}`.
 * - `verification`: once, when the Channel is created;
 * - `profile_disconnected`: the Profile lost access (with `profile_disconnect_reason`);
 * - `profile_connected`: the Profile reconnected by itself (no relink needed).
 * Each is stored as an outbound delivery (signed, retried ~24 h, then dead-lettered) inside the
 * caller's transaction, with a deterministic id, so an event processed twice notifies once.
 */
export type NotificationType = 'verification' | 'profile_disconnected' | 'profile_connected';

export type ProfileFields = {
  profileId: string;
  profileName: string;
  connected: boolean;
  disconnectReason: string | null;
};

export function channelJson(channel: Pick<Channel, 'id' | 'callbackUrl'>) {
  return { channel_id: channel.id, callback_url: channel.callbackUrl, filters: {} };
}

/** Same address as the Account views' `profile_relink_url`. */
const relinkUrl = (publicUrl: string, profileId: string) => `${publicUrl}/relink/${profileId}`;

export function notificationBody(
  channel: Pick<Channel, 'id' | 'callbackUrl'>,
  type: NotificationType,
  event: { at?: Date; profile?: ProfileFields; publicUrl?: string } = {},
) {
  const p = event.profile;
  return {
    notification: {
      type,
      ...(event.at ? { changes_since: event.at.toISOString() } : {}),
      ...(p
        ? {
            profile_id: p.profileId,
            profile_name: p.profileName,
            profile_connected: p.connected,
            ...(p.connected
              ? {}
              : {
                  profile_disconnect_reason: p.disconnectReason,
                  ...(event.publicUrl ? { profile_relink_url: relinkUrl(event.publicUrl, p.profileId) } : {}),
                }),
          }
        : {}),
    },
    channel: channelJson(channel),
  };
}

/** Stores the `verification` notification of a new Channel; returns the delivery id to send. */
export async function storeVerification(
  tx: DbOrTx,
  app: Pick<AppContext, 'keyring'>,
  channel: Channel,
): Promise<string> {
  const id = deliveryIdFor(`verification:${channel.id}`);
  await storeDelivery(tx, app, {
    id,
    applicationId: channel.applicationId,
    kind: 'notification',
    url: channel.callbackUrl,
    body: notificationBody(channel, 'verification'),
    accountId: channel.accountId,
    channelId: channel.id,
  });
  return id;
}

export type ProfileEvent = {
  type: 'profile_disconnected' | 'profile_connected';
  accountId: string;
  profile: ProfileFields;
  at: Date;
  /** Names this occurrence of the event (e.g. the check lease), so a replay maps to the same delivery. */
  eventKey: string;
};

/**
 * Stores one notification per open Channel of each event's Account. Returns the delivery ids; send
 * them once the transaction commits (the delivery pump).
 */
export async function storeProfileNotifications(
  tx: DbOrTx,
  app: Pick<AppContext, 'keyring' | 'config'>,
  events: ProfileEvent[],
): Promise<string[]> {
  const open = await listOpenChannelsOf(tx, [...new Set(events.map((e) => e.accountId))]);
  const ids: string[] = [];
  for (const event of events) {
    for (const channel of open.filter((c) => c.accountId === event.accountId)) {
      const id = deliveryIdFor(`${event.type}:${channel.id}:${event.profile.profileId}:${event.eventKey}`);
      await storeDelivery(tx, app, {
        id,
        applicationId: channel.applicationId,
        kind: 'notification',
        url: channel.callbackUrl,
        body: notificationBody(channel, event.type, {
          at: event.at,
          profile: event.profile,
          publicUrl: app.config.http.publicUrl,
        }),
        accountId: channel.accountId,
        channelId: channel.id,
      });
      // Also when it was stored before (a replay): sending is de-duplicated per attempt.
      ids.push(id);
    }
  }
  return ids;
}
