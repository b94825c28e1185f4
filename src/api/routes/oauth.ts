import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { OAuthError } from '../../errors.js';
import type { AppContext } from '../../services/context.js';
import { authenticateClient, exchangeCode, refreshAccessToken, revoke } from '../../services/tokens.js';
import { emptyBody, tokenErrors, tokenPairFields } from '../responses.js';

const optionalString = z.string().max(4096).optional();

/** Token request fields (JSON or form). Unknown fields (the SDK sends some) are ignored. */
const tokenBody = z.object({
  grant_type: optionalString,
  client_id: optionalString,
  client_secret: optionalString,
  code: optionalString,
  redirect_uri: optionalString,
  refresh_token: optionalString,
});

const revokeBody = z.object({
  client_id: optionalString,
  client_secret: optionalString,
  token: optionalString,
  /** The official SDK sends `refresh_token` instead of `token`. */
  refresh_token: optionalString,
  sub: optionalString,
});

/** The token response, in Cronofy's shape (an Account's, or a Service Account's). */
const tokenResponse = z
  .looseObject({
    ...tokenPairFields,
    sub: z.string().describe('acc_… or ser_…'),
    account_id: z.string().optional(),
    service_account_id: z.string().optional(),
    linking_profile: z
      .object({
        provider_name: z.string(),
        provider_service: z.string(),
        profile_id: z.string(),
        profile_name: z.string(),
      })
      .optional(),
  })
  .describe('Tokens (Cache-Control: no-store)');

/**
 * RFC 6749 token endpoint and RFC 7009 revocation. Client credentials come in the body; any
 * Authorization header is ignored (the official SDK sends `Bearer undefined`); responses are never cached.
 */
export const oauthRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    server.addHook('onSend', async (_req, reply, payload) => {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      return payload;
    });

    server.post(
      '/oauth/token',
      {
        schema: {
          body: tokenBody,
          tags: ['oauth'],
          summary: 'Exchange a code or refresh token for tokens',
          response: { 200: tokenResponse, ...tokenErrors },
        },
      },
      async (req) => {
        const body = req.body;
        const client = { clientId: body.client_id, clientSecret: body.client_secret };
        if (body.grant_type === 'authorization_code') {
          // Client authentication is part of the redemption's one statement.
          return exchangeCode(app, client, body.code, body.redirect_uri);
        }
        const application = await authenticateClient(app, client.clientId, client.clientSecret);
        switch (body.grant_type) {
          case 'refresh_token':
            return refreshAccessToken(app, application, body.refresh_token);
          case undefined:
            throw new OAuthError('invalid_request', 'grant_type is required');
          default:
            throw new OAuthError('unsupported_grant_type', `grant_type ${body.grant_type} is not supported`);
        }
      },
    );

    server.post(
      '/oauth/token/revoke',
      {
        schema: {
          body: revokeBody,
          tags: ['oauth'],
          summary: 'Revoke a token, or everything of a sub',
          response: {
            200: emptyBody('Revoked (unknown values are not an error): empty body'),
            ...tokenErrors,
          },
        },
      },
      async (req, reply) => {
        const body = req.body;
        const application = await authenticateClient(app, body.client_id, body.client_secret);
        await revoke(app, application, { token: body.token ?? body.refresh_token, sub: body.sub });
        return reply.code(200).send();
      },
    );
  };
