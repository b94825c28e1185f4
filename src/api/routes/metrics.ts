import type { FastifyPluginAsync } from 'fastify';
import type { MetricsEndpoint } from '../../metrics/scrape.js';

/** `GET /metrics` in Prometheus' text format (mounted inside the admin-auth scope by server.ts). */
export const metricsRoutes =
  (endpoint: MetricsEndpoint): FastifyPluginAsync =>
  async (server) => {
    server.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      const body = await endpoint.render();
      return reply.type(endpoint.contentType).send(body);
    });
  };
