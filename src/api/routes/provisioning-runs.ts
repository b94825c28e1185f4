import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../services/context.js';
import {
  cancelRun,
  createRun,
  describeRun,
  getOwnedRun,
  itemsPage,
  itemsQuerySchema,
  listRunsOf,
  retryRun,
  runJson,
  runRequestSchema,
} from '../../services/provisioning.js';
import { authenticate, callerOf } from '../auth.js';
import { jsonErrors } from '../responses.js';

/** A run's status and counts; `GET /v1/provisioning_runs/{id}` adds `callbacks_pending`. */
const run = z.looseObject({
  id: z.string().describe('run_…'),
  service_account_id: z.string(),
  status: z
    .string()
    .describe('queued | listing | provisioning | completed | completed_with_errors | cancelled | failed'),
  listed: z.number().int(),
  provisioned: z.number().int(),
  skipped: z.number().int(),
  failed: z.number().int(),
  counts: z.looseObject({}),
  listing_complete: z.boolean(),
  rate_per_second: z.number(),
  eta_seconds: z.number().nullable(),
  failures_by_reason: z.array(z.object({ error_key: z.string(), count: z.number().int() })),
  skipped_by_reason: z.array(z.object({ error_key: z.string(), count: z.number().int() })),
  error: z.string().nullable(),
  selection: z
    .looseObject({
      org_units: z.array(z.object({ path: z.string(), include_children: z.boolean() })),
      groups: z.array(z.string()),
      domains: z.array(z.string()),
      emails: z.number().int().describe('How many explicit emails'),
    })
    .nullable()
    .optional(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  callbacks_pending: z.number().int().optional(),
});

const item = z.looseObject({
  id: z.string(),
  email: z.string(),
  kind: z.string().describe('user | room | shared_mailbox'),
  status: z.string(),
  error_key: z.string().nullable(),
  error_description: z.string().nullable(),
  account_id: z.string().nullable(),
});

const conflict = { 409: jsonErrors[404].describe('The run cannot be retried (cancelled, dry run)') };

/** The largest run request: room for a selection of 50,000 emails. */
const RUN_BODY_LIMIT_BYTES = 4 * 1024 * 1024;

const params = z.object({
  id: z.string().regex(/^run_[a-z2-7]{26}$/, 'must be a provisioning run id (run_…)'),
});

/** Provisioning runs: onboard a whole directory (Service Account token). */
export const provisioningRunRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    const preParsing = authenticate(app, 'service_account');
    const tags = ['provisioning runs'];

    server.post(
      '/v1/provisioning_runs',
      {
        preParsing,
        // A selection may carry up to 50,000 emails (≈ 2 MB of JSON).
        bodyLimit: RUN_BODY_LIMIT_BYTES,
        schema: {
          body: runRequestSchema,
          tags,
          summary: 'Onboard the whole directory, or the part a selection names',
          description:
            "With `selection` (org units, groups, domains, emails: any user one of them names), only that part; unknown org units or groups are a 422. Without one, the Service Account's default selection, if it has one.",
          response: { 202: z.object({ provisioning_run: run }).describe('Queued'), ...jsonErrors },
        },
      },
      async (req, reply) => {
        const { token, serviceAccount } = callerOf(req, 'service_account');
        const run = await createRun(app, serviceAccount, token.scope, req.body);
        return reply.code(202).send({ provisioning_run: runJson(run) });
      },
    );

    server.get(
      '/v1/provisioning_runs',
      {
        preParsing,
        schema: {
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }),
          tags,
          summary: 'Recent runs',
          response: { 200: z.object({ provisioning_runs: z.array(run) }), ...jsonErrors },
        },
      },
      async (req) => {
        const { serviceAccount } = callerOf(req, 'service_account');
        const runs = await listRunsOf(app, serviceAccount, req.query.limit);
        return { provisioning_runs: runs.map((r) => runJson(r)) };
      },
    );

    server.get(
      '/v1/provisioning_runs/:id',
      {
        preParsing,
        schema: {
          params,
          tags,
          summary: 'Status and exact counts',
          response: { 200: z.object({ provisioning_run: run }), ...jsonErrors },
        },
      },
      async (req) => {
        const run = await getOwnedRun(app, callerOf(req, 'service_account').serviceAccount, req.params.id);
        return { provisioning_run: await describeRun(app, run) };
      },
    );

    server.get(
      '/v1/provisioning_runs/:id/items',
      {
        preParsing,
        schema: {
          params,
          querystring: itemsQuerySchema,
          tags,
          summary: 'Items, by status, cursor-paged',
          response: {
            200: z.object({ items: z.array(item), next_cursor: z.string().nullable() }),
            ...jsonErrors,
          },
        },
      },
      async (req) => {
        const run = await getOwnedRun(app, callerOf(req, 'service_account').serviceAccount, req.params.id);
        return itemsPage(app, run, req.query);
      },
    );

    server.post(
      '/v1/provisioning_runs/:id/retry',
      {
        preParsing,
        schema: {
          params,
          tags,
          summary: 'Re-queue the failed items',
          response: {
            202: z.object({ requeued: z.number().int() }).describe('Re-queued'),
            ...jsonErrors,
            ...conflict,
          },
        },
      },
      async (req, reply) => {
        const run = await getOwnedRun(app, callerOf(req, 'service_account').serviceAccount, req.params.id);
        const { requeued } = await retryRun(app, run);
        return reply.code(202).send({ requeued });
      },
    );

    server.post(
      '/v1/provisioning_runs/:id/cancel',
      {
        preParsing,
        schema: {
          params,
          tags,
          summary: 'Stop the run; created Accounts stay',
          response: {
            202: z
              .object({ cancelled: z.number().int() })
              .describe('Pending items that will not be provisioned'),
            ...jsonErrors,
          },
        },
      },
      async (req, reply) => {
        const run = await getOwnedRun(app, callerOf(req, 'service_account').serviceAccount, req.params.id);
        const { cancelled } = await cancelRun(app, run);
        return reply.code(202).send({ cancelled });
      },
    );
  };
