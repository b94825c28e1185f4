import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  channelView,
  createChannel,
  createChannelSchema,
  deleteChannel,
  listChannels,
} from '../../services/channels.js';
import type { AppContext } from '../../services/context.js';
import { authenticate, callerOf } from '../auth.js';
import { emptyBody, jsonErrors } from '../responses.js';

const channel = z.looseObject({
  channel_id: z.string(),
  callback_url: z.string(),
  filters: z.looseObject({}),
});

/**
 * Push-notification Channels of an Account (Account token), as Cronofy's `/v1/channels`: a
 * `verification` notification at creation, then `profile_disconnected` / `profile_connected`.
 */
export const channelRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    const preParsing = authenticate(app, 'account');
    const callerFrom = (req: Parameters<typeof callerOf>[0]) => {
      const { token, accountId } = callerOf(req, 'account');
      return { applicationId: token.applicationId, accountId };
    };

    server.post(
      '/v1/channels',
      {
        preParsing,
        schema: {
          body: createChannelSchema,
          tags: ['channels'],
          summary: 'Open a notification Channel',
          response: { 200: z.object({ channel }), ...jsonErrors },
        },
      },
      async (req) => {
        const channel = await createChannel(app, callerFrom(req), req.body);
        return { channel: channelView(channel) };
      },
    );

    server.get(
      '/v1/channels',
      {
        preParsing,
        schema: {
          tags: ['channels'],
          summary: "The Account's open Channels",
          response: { 200: z.object({ channels: z.array(channel) }), ...jsonErrors },
        },
      },
      async (req) => {
        const list = await listChannels(app, callerFrom(req));
        return { channels: list.map(channelView) };
      },
    );

    server.delete(
      '/v1/channels/:id',
      {
        preParsing,
        schema: {
          params: z.object({ id: z.string().max(64) }),
          tags: ['channels'],
          summary: 'Close a Channel',
          response: { 202: emptyBody('Closed'), ...jsonErrors },
        },
      },
      async (req, reply) => {
        await deleteChannel(app, callerFrom(req), req.params.id);
        return reply.code(202).send();
      },
    );
  };
