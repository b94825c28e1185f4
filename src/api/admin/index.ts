import type { FastifyPluginAsync } from 'fastify';
import { JobQueues } from '../../jobs/queues.js';
import { createProcessMetrics, type ProcessMetrics } from '../../metrics/process.js';
import { createMetricsEndpoint } from '../../metrics/scrape.js';
import type { AppContext } from '../../services/context.js';
import { metricsRoutes } from '../routes/metrics.js';
import { requireAdmin } from './auth.js';
import { bullBoardPlugin, QUEUES_BASE_PATH } from './queues.js';
import { adminRoutes } from './routes.js';

export type AdminOptions = {
  /** The process's queues (bull-board, queue depths). Default: a set of its own, closed with the server. */
  queues?: JobQueues | undefined;
  /** This process's job/provider/limiter metrics. Default: an empty set (nothing runs jobs here). */
  metrics?: ProcessMetrics | undefined;
};

/**
 * Everything behind ADMIN_TOKEN, in one encapsulated scope: `/admin` (dashboard), `/admin/queues`
 * (bull-board) and `GET /metrics`.
 */
export const adminPlugin =
  (app: AppContext, opts: AdminOptions = {}): FastifyPluginAsync =>
  async (scope) => {
    const queues = opts.queues ?? new JobQueues(app.redis(), app.config.redis.queuePrefix);
    if (!opts.queues) {
      scope.addHook('onClose', () => queues.close());
    }
    const endpoint = createMetricsEndpoint({
      db: app.db,
      redis: app.redis(),
      queues,
      process: opts.metrics ?? createProcessMetrics(),
      logger: app.logger,
    });
    scope.addHook('onRequest', requireAdmin(app.config.adminToken));
    await scope.register(metricsRoutes(endpoint));
    await scope.register(adminRoutes(app));
    await scope.register(bullBoardPlugin(queues), { prefix: QUEUES_BASE_PATH });
  };
