import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../services/context.js';
import { readiness } from '../../services/operations.js';

const checks = z.object({ postgres: z.string(), redis: z.string() }).describe('`ok`, or what failed');

/** Liveness (the process answers) and readiness (Postgres and Redis answer). */
export const healthRoutes =
  (app: AppContext): FastifyPluginAsyncZod =>
  async (server) => {
    const tags = ['health'];
    server.get(
      '/healthz',
      {
        schema: {
          tags,
          summary: 'Liveness: the process answers',
          response: { 200: z.object({ status: z.literal('ok') }) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );
    server.get(
      '/readyz',
      {
        schema: {
          tags,
          summary: 'Readiness: Postgres and Redis answer',
          response: {
            200: z.object({ status: z.literal('ready'), checks }),
            503: z.object({ status: z.literal('not_ready'), checks }),
          },
        },
      },
      async (_req, reply) => {
        const found = await readiness(app);
        const ready = Object.values(found).every((v) => v === 'ok');
        return ready
          ? reply.code(200).send({ status: 'ready', checks: found })
          : reply.code(503).send({ status: 'not_ready', checks: found });
      },
    );
  };
