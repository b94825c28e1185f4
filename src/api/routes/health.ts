import { sql } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { AppContext } from '../../services/context.js';

/** Liveness (the process answers) and readiness (Postgres and Redis answer). */
export const healthRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    server.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
    server.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
      const checks: Record<string, 'ok' | string> = {};
      await Promise.all([
        app.db
          .execute(sql`select 1`)
          .then(() => {
            checks.postgres = 'ok';
          })
          .catch((err: Error) => {
            checks.postgres = err.message;
          }),
        app
          .redis()
          .ping()
          .then(() => {
            checks.redis = 'ok';
          })
          .catch((err: Error) => {
            checks.redis = err.message;
          }),
      ]);
      const ready = Object.values(checks).every((v) => v === 'ok');
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
    });
  };
