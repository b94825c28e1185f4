import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../../services/context.js';
import { changeServiceAccount, serviceAccountPatchSchema } from '../../services/service-account-settings.js';
import { describeServiceAccount, getOwnedServiceAccount } from '../../services/service-accounts.js';
import { authenticate, callerOf } from '../auth.js';
import { errorBody, providerErrors } from '../responses.js';
import { idParams, serviceAccountView } from './service-accounts.js';

/**
 * `PATCH /v1/service_accounts/{id}` (Application auth): replaces the credential in place after a live
 * check, and changes settings (grace period, auto-provisioning, credential expiry). Another
 * Application's Service Account is a 404, as on the other Service Account routes.
 */
export const serviceAccountSettingsRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    server.patch(
      '/v1/service_accounts/:id',
      {
        onRequest: authenticate(app, 'application'),
        schema: {
          params: idParams,
          body: serviceAccountPatchSchema,
          tags: ['service accounts'],
          summary: 'Replace the credential in place (verified live) and change settings',
          description:
            'Google: `credentials` (a new key file) and/or `admin_email`; Microsoft: `client_secret`. ' +
            'The new credential is checked as at registration (a token, one directory page, the domain); ' +
            'a refusal is a 422 naming the reason and leaves the stored credential as it was. ' +
            'The Service Account keeps its id, Accounts, Profiles and tokens. ' +
            'Settings: `removal_delay_seconds` (grace period, default 604800), `auto_provision`, `credential_expires_at`.',
          response: {
            200: serviceAccountView,
            409: errorBody.describe('The Service Account is revoked'),
            ...providerErrors,
          },
        },
      },
      async (req) => {
        const application = callerOf(req, 'application');
        const sa = await getOwnedServiceAccount(app, application, req.params.id);
        const { serviceAccount } = await changeServiceAccount(
          app,
          sa,
          req.body,
          `api:${application.clientId}`,
        );
        return { service_account: await describeServiceAccount(app, serviceAccount) };
      },
    );
  };
