import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyRequest,
  FastifyTypeProvider,
  RawServerDefault,
} from 'fastify';
import { RateLimitedError } from '../errors.js';
import { BatchedWindows, type FixedWindow, MemoryWindows, type WindowAnswer } from '../lib/fixed-windows.js';
import { createRedisClient } from '../lib/redis.js';
import type { AppContext } from '../services/context.js';
import { createRateLimitKeys, type RateLimitSubject, type RateLimits } from '../services/rate-limit-keys.js';

/** Never limited: probes must see the process as it is. */
const UNLIMITED_ROUTES = new Set(['/healthz', '/readyz']);
/** Limited once the body is parsed, by the Application its `client_id` names (they carry no bearer). */
const TOKEN_ROUTES = new Set(['/oauth/token', '/oauth/token/revoke']);

/** How long a starting server waits for the limiter's Redis before counting in memory meanwhile. */
const READY_WAIT_MS = 2_000;

/** How often each process sends what it counted to Redis. */
const FLUSH_MS = 10;

/** At most one "Redis failed" line per this long. */
const FAILURE_LOG_INTERVAL_MS = 10_000;

const WINDOWS = [
  { name: 'second', durationSecs: 1, points: (l: RateLimits) => l.perSecond },
  { name: 'minute', durationSecs: 60, points: (l: RateLimits) => l.perMinute },
] as const;

function bearerOf(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  return typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1] : undefined;
}

function clientIdOf(body: unknown): string | undefined {
  const value =
    typeof body === 'object' && body !== null ? (body as { client_id?: unknown }).client_id : undefined;
  return typeof value === 'string' ? value : undefined;
}

/**
 * The API's rate limit (DESIGN §6): two fixed windows, per second and per minute, per Application
 * (see services/rate-limit-keys.ts), counted in Redis so every API process shares them. Past either
 * window the request fails with RateLimitedError, which errors.ts renders as 429 with Retry-After.
 * Each process adds its counts to Redis every FLUSH_MS: the processes together may let through what
 * the others counted in that time beyond a limit, and a single process is exact.
 *
 * The limiter has a Redis connection of its own that never queues commands: when Redis is down or
 * slow, each process falls back to counting in memory (the same limits, per process) instead of
 * holding requests until Redis returns.
 */
export function addRateLimit<L extends FastifyBaseLogger, T extends FastifyTypeProvider>(
  server: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, L, T>,
  app: AppContext,
  defaults: RateLimits,
): void {
  // A server or a Redis Cluster, as configured (lib/redis.ts).
  const redis = createRedisClient(app.config.redis, {
    enableOfflineQueue: false,
    connectTimeout: 1_000,
    commandTimeout: 1_000,
    maxRetriesPerRequest: 1,
    // Concurrent requests' scripts go out in one write.
    enableAutoPipelining: true,
  });
  let redisDown = false;
  redis.on('error', (err: Error) => {
    // ioredis reports every failed reconnect; one line per outage is enough.
    if (!redisDown) {
      redisDown = true;
      app.logger.warn({ err: err.message }, 'rate limiter: Redis unavailable, limiting per process');
    }
  });
  redis.on('ready', () => {
    if (redisDown) {
      redisDown = false;
      app.logger.info('rate limiter: Redis available again');
    }
  });

  // Each process counts here and sends its counts to Redis every few ms, one script for every window
  // (lib/fixed-windows.ts BatchedWindows): no Redis round trip on a request, but for a caller's first
  // in each window. The counter is keyed by window and subject, not by size, so changing an override
  // keeps the count.
  const keyPrefix = `${app.config.redis.queuePrefix}:ratelimit`;
  const memory = new MemoryWindows();
  let failureLoggedAt = 0;
  const logFailure = (err: unknown, log: FastifyBaseLogger) => {
    // Once in a while, not on every request of an outage.
    if (Date.now() - failureLoggedAt > FAILURE_LOG_INTERVAL_MS) {
      failureLoggedAt = Date.now();
      log.warn({ err }, 'rate limiter: Redis failed, counting in memory');
    }
  };
  const shared = new BatchedWindows(redis, {
    flushMs: FLUSH_MS,
    onFlushError: (err) => logFailure(err, app.logger),
  });
  const windowsOf = (subject: RateLimitSubject): FixedWindow[] =>
    WINDOWS.map((w) => ({
      key: `${keyPrefix}:${w.name}:${subject.key}`,
      points: w.points(subject.limits),
      ms: w.durationSecs * 1000,
    }));

  const check = async (req: FastifyRequest, subject: RateLimitSubject): Promise<void> => {
    const windows = windowsOf(subject);
    let answer: WindowAnswer;
    if (redis.status !== 'ready') {
      answer = memory.count(windows);
    } else {
      try {
        answer = await shared.count(windows);
      } catch (err) {
        // Redis failed this request: count it in memory rather than fail it or let it through.
        logFailure(err, req.log);
        answer = memory.count(windows);
      }
    }
    const exceeded = WINDOWS[answer.blocked - 1];
    if (exceeded) {
      const limit = exceeded.points(subject.limits);
      const retryAfterMs = answer.waitMs;
      throw new RateLimitedError(
        retryAfterMs,
        `Rate limit of ${limit} requests per ${exceeded.name} exceeded; retry in ${Math.max(1, Math.ceil(retryAfterMs / 1000))} s`,
      );
    }
  };

  const keys = createRateLimitKeys(app, defaults);
  const route = (req: FastifyRequest) => req.routeOptions.url;
  // A failed lookup (Postgres away) counts the caller by address rather than failing the request here.
  const byAddress = (req: FastifyRequest) => (err: unknown) => {
    req.log.warn({ err }, 'rate limiter: could not resolve the caller');
    return { key: `ip:${req.ip}`, limits: defaults };
  };

  // Everything but the token endpoints is limited before authentication, so failed attempts count.
  server.addHook('onRequest', async (req) => {
    const url = route(req);
    if (url !== undefined && (UNLIMITED_ROUTES.has(url) || TOKEN_ROUTES.has(url))) {
      return;
    }
    await check(req, await keys.forBearer(bearerOf(req), req.ip).catch(byAddress(req)));
  });
  // preValidation: the body is parsed but not yet validated, so malformed token requests count too.
  server.addHook('preValidation', async (req) => {
    const url = route(req);
    if (url === undefined || !TOKEN_ROUTES.has(url)) {
      return;
    }
    await check(req, await keys.forClientId(clientIdOf(req.body), req.ip).catch(byAddress(req)));
  });
  // Start counting in Redis, not in memory: wait (briefly, and never failing) for the connection.
  server.addHook('onReady', async () => {
    if (redis.status === 'ready') {
      return;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        redis.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, READY_WAIT_MS);
      redis.once('ready', done);
    });
  });
  server.addHook('onClose', async () => {
    await shared.flush();
    shared.close();
    redis.disconnect();
  });
}
