import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NotFoundError } from '../../errors.js';
import { accountViews, revokeAccount } from '../../services/accounts.js';
import type { AppContext } from '../../services/context.js';
import { serviceAccountUserinfo } from '../../services/service-accounts.js';
import { authenticate, authenticateToken, callerOf, maybeCallerOf } from '../auth.js';
import { emptyBody, jsonErrors, plainJsonAnswers } from '../responses.js';

/** A Profile in Cronofy's shape (`profile_relink_url` while disconnected). */
const profile = z.looseObject({
  provider_name: z.string().describe('google | exchange'),
  provider_service: z.string().describe('gsuite | office365'),
  profile_id: z.string(),
  profile_name: z.string(),
  profile_connected: z.boolean(),
  profile_relink_url: z.string().optional(),
});

const calendar = z.looseObject({
  profile_id: z.string(),
  calendar_id: z.string(),
  calendar_name: z.string(),
  calendar_readonly: z.boolean(),
  calendar_primary: z.boolean(),
});

const userinfo = z
  .looseObject({
    sub: z.string().describe('acc_… or ser_…'),
    email: z.string(),
    'cronofy.type': z.string().describe('account | service_account'),
    'cronofy.data': z.looseObject({}),
  })
  .describe('Userinfo of the Account, or of the Service Account (its provider and domain)');

/** Identity views of an Account (Account token), with Cronofy's field names. */
export const accountRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    const preParsing = authenticate(app, 'account');
    const views = async (req: FastifyRequest) => {
      const caller = callerOf(req, 'account');
      // The Account and Profile read to check the token are the ones shown.
      return {
        caller,
        views: await accountViews(app.db, caller.accountId, app.config.http.publicUrl, caller.view),
      };
    };

    server.get(
      '/v1/userinfo',
      {
        preParsing: authenticateToken(app),
        // The hottest read a booking product makes (every page load checks its token).
        ...plainJsonAnswers,
        schema: {
          tags: ['accounts'],
          summary: 'OpenID-style userinfo (Account or Service Account token)',
          response: { 200: userinfo, ...jsonErrors },
        },
      },
      async (req) => {
        const sa = maybeCallerOf(req, 'service_account');
        if (sa) {
          return serviceAccountUserinfo(sa.serviceAccount, sa.token.scope);
        }
        return (await views(req)).views.userinfo;
      },
    );

    server.get(
      '/v1/account',
      {
        preParsing,
        schema: {
          tags: ['accounts'],
          summary: 'The Account',
          response: {
            200: z.object({
              account: z.looseObject({
                account_id: z.string(),
                email: z.string(),
                name: z.string().nullable(),
                scope: z.string(),
                default_tzid: z.string(),
              }),
              sub: z.string(),
            }),
            ...jsonErrors,
          },
        },
      },
      async (req) => {
        const { views: v } = await views(req);
        return {
          account: {
            account_id: v.account.id,
            email: v.account.email,
            name: v.account.name,
            scope: v.account.scope,
            default_tzid: 'Etc/UTC',
          },
          sub: v.account.id,
        };
      },
    );

    server.get(
      '/v1/profiles',
      {
        preParsing,
        schema: {
          tags: ['accounts'],
          summary: "The Account's Profiles",
          response: { 200: z.object({ profiles: z.array(profile) }), ...jsonErrors },
        },
      },
      async (req) => {
        return { profiles: [(await views(req)).views.profileJson] };
      },
    );

    server.get(
      '/v1/calendars',
      {
        preParsing,
        schema: {
          tags: ['accounts'],
          summary: "The Account's Calendars",
          response: { 200: z.object({ sub: z.string(), calendars: z.array(calendar) }), ...jsonErrors },
        },
      },
      async (req) => {
        const { views: v } = await views(req);
        return { sub: v.account.id, calendars: v.calendarsJson };
      },
    );

    server.post(
      '/v1/profiles/:id/revoke',
      {
        preParsing,
        schema: {
          params: z.object({ id: z.string().max(64) }),
          tags: ['accounts'],
          summary: 'Revoke a Profile',
          response: { 202: emptyBody('Revoked: its tokens stop working'), ...jsonErrors },
        },
      },
      async (req, reply) => {
        const { caller, views: v } = await views(req);
        if (v.profile.id !== req.params.id) {
          throw new NotFoundError('Profile', req.params.id);
        }
        await revokeAccount(app.db, caller.token.applicationId, caller.accountId);
        return reply.code(202).send();
      },
    );
  };
