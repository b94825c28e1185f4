import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ForbiddenError, ValidationError } from '../../errors.js';
import {
  authorizationRequestSchema,
  MAX_AUTHORIZATIONS_PER_REQUEST,
  requestAuthorizations,
} from '../../services/authorizations.js';
import type { AppContext } from '../../services/context.js';
import { listResources, resourceJson } from '../../services/resources.js';
import { serviceAccountScopeAllows } from '../../services/scopes.js';
import {
  describeServiceAccount,
  getOwnedServiceAccount,
  registerServiceAccount,
  registrationSchema,
  revokeServiceAccount,
} from '../../services/service-accounts.js';
import { authenticate, callerOf } from '../auth.js';
import { emptyBody, jsonErrors, providerErrors, tokenPairFields } from '../responses.js';

export const idParams = z.object({
  id: z.string().regex(/^ser_[a-z2-7]{26}$/, 'must be a Service Account id (ser_…)'),
});

const authorizationsBody = z.union([
  z.object({
    service_account_authorizations: z
      .array(authorizationRequestSchema)
      .min(1, 'must hold at least one authorization')
      .max(
        MAX_AUTHORIZATIONS_PER_REQUEST,
        `must hold at most ${MAX_AUTHORIZATIONS_PER_REQUEST} authorizations`,
      ),
  }),
  authorizationRequestSchema,
]);

const serviceAccountToken = z
  .looseObject({
    ...tokenPairFields,
    service_account_id: z.string().describe('ser_…'),
    sub: z.string(),
    warnings: z.array(z.string()).describe('e.g. the credential expires within 30 days'),
  })
  .describe('The Service Account, verified live, and its token (Cache-Control: no-store)');

export const serviceAccountView = z
  .object({
    service_account: z.looseObject({
      service_account_id: z.string(),
      provider_name: z.enum(['google', 'microsoft']),
      domain: z.string(),
      status: z.string().describe('active | broken | revoked'),
      broken_reason: z.string().nullable(),
      scope: z.string(),
      delegated_scope: z.string(),
      accounts: z.number().int(),
      profiles_connected: z.number().int(),
      profiles_disconnected: z.number().int(),
      last_directory_sync_at: z.string().nullable(),
      last_error: z.string().nullable(),
      credential_expires_at: z
        .string()
        .nullable()
        .describe("the provider's end date when it could be read (Microsoft Graph), else the one given"),
      credential_expires_at_source: z.enum(['provider', 'admin']).nullable(),
      credential_changed_at: z.string().nullable().describe('when the credential was last replaced in place'),
      auto_provision: z.boolean(),
      selection: z
        .looseObject({
          org_units: z.array(z.object({ path: z.string(), include_children: z.boolean() })),
          groups: z.array(z.string()),
          domains: z.array(z.string()),
          emails: z.number().int().describe('How many explicit emails'),
        })
        .nullable()
        .optional()
        .describe('The default selection its runs and directory syncs keep to; null: the whole directory'),
      removal_delay_seconds: z
        .number()
        .int()
        .describe('grace period before a removed or suspended user loses its Account'),
      warnings: z.array(z.string()),
      created_at: z.string(),
    }),
  })
  .describe('Status, counts, last sync, last error, warnings');

const resourcesList = z
  .object({
    resources: z.array(
      z.looseObject({
        email: z.string(),
        name: z.string(),
        capacity: z.number().nullable().optional(),
        building: z.string().nullable().optional(),
        floor: z.string().nullable().optional(),
        resource_type: z.string().nullable().optional(),
      }),
    ),
  })
  .describe('Rooms, listed live (details with include_details=true)');

/** Service Accounts (Application auth), delegated authorizations and resources (Service Account token). */
export const serviceAccountRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    const asApplication = authenticate(app, 'application');
    const asServiceAccount = authenticate(app, 'service_account');

    server.post(
      '/v1/service_accounts',
      {
        onRequest: asApplication,
        schema: {
          body: registrationSchema,
          tags: ['service accounts'],
          summary: 'Register a Service Account (verified live)',
          response: { 201: serviceAccountToken, ...providerErrors },
        },
      },
      async (req, reply) => {
        const application = callerOf(req, 'application');
        const { serviceAccount, tokens, warnings } = await registerServiceAccount(
          app,
          application,
          req.body,
          `api:${application.clientId}`,
        );
        return reply.code(201).header('cache-control', 'no-store').send({
          token_type: 'bearer',
          access_token: tokens.accessToken,
          expires_in: tokens.expiresIn,
          refresh_token: tokens.refreshToken,
          scope: tokens.scope,
          service_account_id: serviceAccount.id,
          sub: serviceAccount.id,
          warnings,
        });
      },
    );

    server.get(
      '/v1/service_accounts/:id',
      {
        onRequest: asApplication,
        schema: {
          params: idParams,
          tags: ['service accounts'],
          summary: 'Status and counts of a Service Account',
          response: { 200: serviceAccountView, ...jsonErrors },
        },
      },
      async (req) => {
        const application = callerOf(req, 'application');
        const sa = await getOwnedServiceAccount(app, application, req.params.id);
        return { service_account: await describeServiceAccount(app, sa) };
      },
    );

    server.delete(
      '/v1/service_accounts/:id',
      {
        onRequest: asApplication,
        schema: {
          params: idParams,
          tags: ['service accounts'],
          summary: 'Revoke a Service Account and all its Accounts',
          response: { 202: emptyBody('Revoked, with every Account under it'), ...jsonErrors },
        },
      },
      async (req, reply) => {
        const application = callerOf(req, 'application');
        const sa = await getOwnedServiceAccount(app, application, req.params.id);
        if (sa.status !== 'revoked') {
          await revokeServiceAccount(app, sa, `api:${application.clientId}`);
        }
        return reply.code(202).send();
      },
    );

    server.post(
      '/v1/service_account_authorizations',
      {
        preParsing: asServiceAccount,
        schema: {
          body: authorizationsBody,
          tags: ['service accounts'],
          summary: 'Authorize users, rooms or shared mailboxes',
          response: {
            202: emptyBody('Recorded; one signed callback per email follows'),
            ...jsonErrors,
          },
        },
      },
      async (req, reply) => {
        const { token, serviceAccount } = callerOf(req, 'service_account');
        const body = req.body;
        const entries =
          'service_account_authorizations' in body ? body.service_account_authorizations : [body];
        await requestAuthorizations(app, serviceAccount, token.scope, entries);
        return reply.code(202).send();
      },
    );

    server.get(
      '/v1/resources',
      {
        preParsing: asServiceAccount,
        schema: {
          querystring: z.object({
            include_details: z.union([z.string().max(200), z.array(z.string().max(200)).max(10)]).optional(),
          }),
          tags: ['resources'],
          summary: 'Room resources of the Service Account',
          response: { 200: resourcesList, ...providerErrors },
        },
      },
      async (req) => {
        const { token, serviceAccount } = callerOf(req, 'service_account');
        if (!serviceAccountScopeAllows(token.scope, 'resources')) {
          throw new ForbiddenError('The Service Account token lacks service_account/resources/manage');
        }
        const raw = req.query.include_details;
        const flag = Array.isArray(raw) ? raw.join(' ') : (raw ?? '');
        if (flag.length > 0 && !/^(true|false|[a-z_ ]+)$/.test(flag)) {
          throw new ValidationError('Invalid include_details', {
            include_details: ['must be true, false or field names'],
          });
        }
        const details = flag !== '' && flag !== 'false';
        const rooms = await listResources(app, serviceAccount);
        return { resources: rooms.map((r) => resourceJson(r, details)) };
      },
    );
  };
