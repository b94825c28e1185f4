import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { ServiceUnavailableError } from '../../errors.js';
import type { JobQueues } from '../../jobs/queues.js';
import { type RedisClient, redisReader } from '../../lib/redis.js';
import { errorHandler } from '../errors.js';

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

/** How long a bull-board API call waits for Redis to answer a PING before answering 503. */
export const QUEUES_REDIS_TIMEOUT_MS = 1_500;

/**
 * An `onRequest` hook for bull-board's JSON API (its page and assets need no Redis): with Redis
 * away, its calls would wait in the connection's offline queue for as long as the outage lasts, so
 * each first needs a PING answered within QUEUES_REDIS_TIMEOUT_MS, else 503 with Retry-After.
 */
export function requireRedisForQueues(redis: RedisClient) {
  const read = redisReader(redis, QUEUES_REDIS_TIMEOUT_MS);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (!req.url.startsWith(`${QUEUES_BASE_PATH}/api/`)) {
      return undefined;
    }
    try {
      await read(() => redis.ping());
      return undefined;
    } catch (err) {
      // Answered here: bull-board's own error handler would turn a thrown error into a 500.
      const unavailable = new ServiceUnavailableError(
        5_000,
        'Redis is unavailable: the queues cannot be read now.',
        {
          cause: err,
        },
      );
      return errorHandler(unavailable, req, reply);
    }
  };
}
