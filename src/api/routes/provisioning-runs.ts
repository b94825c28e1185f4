import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listRuns } from '../../db/queries/runs.js';
import type { AppContext } from '../../services/context.js';
import {
  cancelRun,
  createRun,
  describeRun,
  getOwnedRun,
  itemsPage,
  itemsQuerySchema,
  retryRun,
  runJson,
  runRequestSchema,
} from '../../services/provisioning.js';
import { authenticate, callerOf } from '../auth.js';

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
      { preParsing, schema: { body: runRequestSchema, tags, summary: 'Onboard the whole directory' } },
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
        },
      },
      async (req) => {
        const { serviceAccount } = callerOf(req, 'service_account');
        const runs = await listRuns(app.db, { serviceAccountId: serviceAccount.id, limit: req.query.limit });
        return { provisioning_runs: runs.map((r) => runJson(r)) };
      },
    );

    server.get(
      '/v1/provisioning_runs/:id',
      { preParsing, schema: { params, tags, summary: 'Status and exact counts' } },
      async (req) => {
        const run = await getOwnedRun(app, callerOf(req, 'service_account').serviceAccount, req.params.id);
        return { provisioning_run: await describeRun(app, run) };
      },
    );

    server.get(
      '/v1/provisioning_runs/:id/items',
      {
        preParsing,
        schema: { params, querystring: itemsQuerySchema, tags, summary: 'Items, by status, cursor-paged' },
      },
      async (req) => {
        const run = await getOwnedRun(app, callerOf(req, 'service_account').serviceAccount, req.params.id);
        return itemsPage(app, run, req.query);
      },
    );

    server.post(
      '/v1/provisioning_runs/:id/retry',
      { preParsing, schema: { params, tags, summary: 'Re-queue the failed items' } },
      async (req, reply) => {
        const run = await getOwnedRun(app, callerOf(req, 'service_account').serviceAccount, req.params.id);
        const { requeued } = await retryRun(app, run);
        return reply.code(202).send({ requeued });
      },
    );

    server.post(
      '/v1/provisioning_runs/:id/cancel',
      { preParsing, schema: { params, tags, summary: 'Stop the run; created Accounts stay' } },
      async (req, reply) => {
        const run = await getOwnedRun(app, callerOf(req, 'service_account').serviceAccount, req.params.id);
        const { cancelled } = await cancelRun(app, run);
        return reply.code(202).send({ cancelled });
      },
    );
  };
