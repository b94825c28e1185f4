import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../services/context.js';
import { diagnoseServiceAccount, PERMISSION_CHECKS } from '../../services/diagnostics.js';
import { getOwnedServiceAccount } from '../../services/service-accounts.js';
import { authenticate, callerOf } from '../auth.js';
import { providerErrors } from '../responses.js';

const params = z.object({
  id: z.string().regex(/^ser_[a-z2-7]{26}$/, 'must be a Service Account id (ser_…)'),
});

const query = z.object({
  mailbox: z
    .string()
    .max(320)
    .optional()
    .describe('the sample mailbox to read (default: the first usable user listed)'),
});

export const diagnosticsBody = z
  .object({
    diagnostics: z.object({
      service_account_id: z.string(),
      provider_name: z.enum(['google', 'microsoft']),
      domain: z.string(),
      checked_at: z.string(),
      ok: z.boolean().describe('no check failed'),
      checks: z.array(
        z.object({
          check: z.enum(PERMISSION_CHECKS),
          status: z.enum(['ok', 'failed', 'warning', 'skipped']),
          target: z.string().describe('the scope, Graph permission or mailbox tried'),
          detail: z.string().describe("what happened; the provider's answer when it refused"),
          reason: z.string().nullable().describe('reason code of a refusal'),
          provider_code: z.string().nullable().describe("the provider's error code"),
          fix: z.string().nullable().describe("what the organization's admin must do"),
        }),
      ),
    }),
  })
  .describe('One line per permission the product needs: ok, or the provider answer and the fix');

/** `GET /v1/service_accounts/{id}/diagnostics`: the live permission check (`ec doctor` over HTTP). */
export const serviceAccountDiagnosticsRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    server.get(
      '/v1/service_accounts/:id/diagnostics',
      {
        onRequest: authenticate(app, 'application'),
        schema: {
          params,
          querystring: query,
          tags: ['service accounts'],
          summary: 'Try every permission the product needs, live, with the fix for each failure',
          response: { 200: diagnosticsBody, ...providerErrors },
        },
      },
      async (req) => {
        const application = callerOf(req, 'application');
        const sa = await getOwnedServiceAccount(app, application, req.params.id);
        return { diagnostics: await diagnoseServiceAccount(app, sa, { mailbox: req.query.mailbox }) };
      },
    );
  };
