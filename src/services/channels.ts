import { z } from 'zod';
import { closeChannel, countOpenChannels, insertChannel, listOpenChannels } from '../db/queries/channels.js';
import type { Channel } from '../db/schema/channels.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { newId } from '../lib/ids.js';
import { checkOutboundUrl, OutboundUrlError } from '../lib/outbound-http.js';
import type { AppContext } from './context.js';
import { channelJson, storeVerification } from './notifications.js';

/** Open Channels an Account may have at once (each event is POSTed to every one). */
export const MAX_OPEN_CHANNELS_PER_ACCOUNT = 50;

/** `POST /v1/channels` body (Cronofy's; `filters` accepted and ignored: every Channel gets every event). */
export const createChannelSchema = z.object({
  callback_url: z.string({ error: 'is required' }).min(1, 'is required').max(2048),
  filters: z.record(z.string(), z.unknown()).optional(),
});
export type CreateChannelRequest = z.infer<typeof createChannelSchema>;

export type ChannelCaller = { applicationId: string; accountId: string };

export function channelView(channel: Channel) {
  return channelJson(channel);
}

/**
 * Opens a Channel for the calling Account and sends it the `verification` notification. The URL must
 * be http(s) and, unless OUTBOUND_ALLOW_PRIVATE, resolve to a public address (422 otherwise).
 */
export async function createChannel(
  app: AppContext,
  caller: ChannelCaller,
  body: CreateChannelRequest,
): Promise<Channel> {
  try {
    await checkOutboundUrl(body.callback_url, app.config.outbound.allowPrivate);
  } catch (err) {
    const description = err instanceof OutboundUrlError ? err.message : 'is not a usable URL';
    throw new ValidationError('Invalid channel', {
      callback_url: [{ key: 'errors.invalid_url', description }],
    });
  }
  if ((await countOpenChannels(app.db, caller.accountId)) >= MAX_OPEN_CHANNELS_PER_ACCOUNT) {
    throw new ValidationError('Too many channels', {
      callback_url: [
        {
          key: 'errors.too_many_channels',
          description: `an Account can have at most ${MAX_OPEN_CHANNELS_PER_ACCOUNT} open channels`,
        },
      ],
    });
  }
  // The verification notification is stored with the Channel; the delivery pump sends it.
  return app.db.transaction(async (tx) => {
    const created = await insertChannel(tx, {
      id: newId('channel'),
      applicationId: caller.applicationId,
      accountId: caller.accountId,
      callbackUrl: body.callback_url,
    });
    await storeVerification(tx, app, created);
    return created;
  });
}

export function listChannels(app: Pick<AppContext, 'db'>, caller: ChannelCaller): Promise<Channel[]> {
  return listOpenChannels(app.db, caller.accountId);
}

/** Closes one of the caller's Channels; another Account's (or an unknown) Channel is a 404. */
export async function deleteChannel(
  app: Pick<AppContext, 'db'>,
  caller: ChannelCaller,
  channelId: string,
): Promise<void> {
  if (!(await closeChannel(app.db, caller.accountId, channelId))) {
    throw new NotFoundError('Channel', channelId);
  }
}
