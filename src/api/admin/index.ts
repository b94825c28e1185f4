import type { FastifyPluginAsync } from 'fastify';
import { JobQueues } from '../../jobs/queues.js';
import { createProcessMetrics, type ProcessMetrics } from '../../metrics/process.js';
import { createMetricsEndpoint } from '../../metrics/scrape.js';
import type { AppContext } from '../../services/context.js';
import { metricsRoutes } from '../routes/metrics.js';
import { auditAdminActions, auditPageRoutes } from './audit.js';
import { requireAdmin, requireMetricsToken } from './auth.js';
import { diagnosticsPageRoutes } from './diagnostics.js';
import { failuresPageRoutes } from './failures.js';
import { bullBoardPlugin, QUEUES_BASE_PATH, requireRedisForQueues } from './queues.js';
import { adminRoutes } from './routes.js';
import { serviceAccountPageRoutes } from './service-account-page.js';

export type AdminOptions = {
  /** The process's queues (bull-board, queue depths). Default: a set of its own, closed with the server. */
  queues?: JobQueues | undefined;
  /** This process's job/provider/limiter metrics. Default: an empty set (nothing runs jobs here). */
  metrics?: ProcessMetrics | undefined;
};

/**
 * Everything behind a token, in one encapsulated scope: `/admin` (dashboard) and `/admin/queues`
 * (bull-board) behind ADMIN_TOKEN, `GET /metrics` behind METRICS_TOKEN (else ADMIN_TOKEN).
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
    // Two child scopes, each with its own token: METRICS_TOKEN for /metrics, ADMIN_TOKEN for the rest.
    await scope.register(async (metrics) => {
      metrics.addHook('onRequest', requireMetricsToken(app.config.metricsToken));
      await metrics.register(metricsRoutes(endpoint));
    });
    await scope.register(async (admin) => {
      admin.addHook('onRequest', requireAdmin(app.config.adminToken));
      admin.addHook('onSend', auditAdminActions(app));
      await admin.register(adminRoutes(app));
      await admin.register(failuresPageRoutes(app));
      await admin.register(auditPageRoutes(app));
      await admin.register(serviceAccountPageRoutes(app));
      await admin.register(diagnosticsPageRoutes(app));
      admin.addHook('onRequest', requireRedisForQueues(app.redis()));
      await admin.register(bullBoardPlugin(queues), { prefix: QUEUES_BASE_PATH });
    });
  };
