import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyPluginCallback } from 'fastify';
import type { JobQueues } from '../../jobs/queues.js';

export const QUEUES_BASE_PATH = '/admin/queues';

/**
 * bull-board over every queue, at /admin/queues (registered inside the admin-auth scope). Jobs can
 * be inspected, retried and cleaned there; BullMQ carries only ids, so no secret is shown. Its
 * state-changing calls are fetch PUT/POST/DELETE with JSON bodies, refused cross-site by the admin
 * hook and by the absence of CORS.
 */
export function bullBoardPlugin(queues: JobQueues): FastifyPluginCallback {
  const adapter = new FastifyAdapter();
  adapter.setBasePath(QUEUES_BASE_PATH);
  createBullBoard({
    queues: queues.allQueues().map((q) => new BullMQAdapter(q, { allowRetries: true })),
    serverAdapter: adapter,
    options: {
      uiConfig: {
        boardTitle: 'Enterprise Connect queues',
        miscLinks: [
          { text: 'Dashboard', url: '/admin' },
          { text: 'Metrics', url: '/metrics' },
        ],
        hideDocsLink: true,
      },
    },
  });
  return adapter.registerPlugin();
}
