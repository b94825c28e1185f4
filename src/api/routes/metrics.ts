import type { FastifyPluginAsync } from 'fastify';
import type { MetricsEndpoint } from '../../metrics/scrape.js';
import { plainText } from '../responses.js';

/** `GET /metrics` in Prometheus' text format (mounted inside the admin-auth scope by server.ts). */
export const metricsRoutes =
  (endpoint: MetricsEndpoint): FastifyPluginAsync =>
  async (server) => {
    const schema = {
      tags: ['admin'],
      summary: 'Prometheus metrics (METRICS_TOKEN or ADMIN_TOKEN)',
      response: {
        200: plainText("Prometheus' text format"),
        401: plainText('METRICS_TOKEN or ADMIN_TOKEN is required'),
        403: plainText('Neither METRICS_TOKEN nor ADMIN_TOKEN is configured'),
      },
    };
    server.get('/metrics', { schema }, async (_req, reply) => {
      const body = await endpoint.render();
      return reply.type(endpoint.contentType).send(body);
    });
  };
