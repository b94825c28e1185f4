import { randomUUID } from 'node:crypto';
import formbody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { AppError } from '../errors.js';
import type { AppContext } from '../services/context.js';
import type { RateLimits } from '../services/rate-limit-keys.js';
import { type AdminOptions, adminPlugin } from './admin/index.js';
import { QUEUES_BASE_PATH } from './admin/queues.js';
import { adminErrorHandler } from './admin/routes.js';
import { badUrlError, errorHandler } from './errors.js';
import { refuseUnstorableText } from './input-guard.js';
import { addRateLimit } from './rate-limit.js';
import { lazyChildLoggerFactory } from './request-logger.js';
import { accountRoutes } from './routes/accounts.js';
import { auditApiRunActions, auditEventRoutes } from './routes/audit-events.js';
import { AUTHORIZE_PATH, authorizePageErrorHandler, authorizePageRoutes } from './routes/authorize-page.js';
import { availabilityRoutes } from './routes/availability.js';
import { calendarDataRoutes } from './routes/calendar-data.js';
import { channelRoutes } from './routes/channels.js';
import { healthRoutes } from './routes/health.js';
import { oauthRoutes } from './routes/oauth.js';
import { provisioningRunRoutes } from './routes/provisioning-runs.js';
import { RELINK_PREFIX, relinkErrorHandler, relinkRoutes } from './routes/relink.js';
import { serviceAccountDiagnosticsRoutes } from './routes/service-account-diagnostics.js';
import { serviceAccountSettingsRoutes } from './routes/service-account-settings.js';
import { serviceAccountRoutes } from './routes/service-accounts.js';

/**
 * Who answers for a URL the router refuses before any route (or its error handler) is known: the
 * server-rendered pages with their own error page, everything else (bull-board's API too) with JSON.
 */
function errorHandlerForUrl(url: string) {
  const path = url.split('?')[0] ?? '';
  const under = (prefix: string) => path === prefix || path.startsWith(`${prefix}/`);
  if (under(RELINK_PREFIX)) {
    return relinkErrorHandler;
  }
  if (under(AUTHORIZE_PATH)) {
    return authorizePageErrorHandler;
  }
  if (under('/admin') && !under(QUEUES_BASE_PATH)) {
    return adminErrorHandler;
  }
  return errorHandler;
}

export type ServerOptions = {
  /**
   * Requests per Application (unknown callers: per IP address) per second and per minute.
   * Default: `API_RATE_LIMIT_PER_SECOND` / `API_RATE_LIMIT_PER_MINUTE` (config.apiRateLimit).
   */
  rateLimit?: Partial<RateLimits>;
  /** Body size limit in bytes. Default 1 MiB (a bulk of 1,000 authorizations fits). */
  bodyLimit?: number;
  /** Time a client has to send its whole request. Default 30 s (REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
} & AdminOptions;

/** Time a client has to send a whole request, headers and body (Node's `requestTimeout`). */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Pages a browser shows (never an API answer): the dashboard and bull-board, the authorize and relink pages. */
const isBrowserPage = (url: string) =>
  url === '/admin' ||
  url.startsWith('/admin/') ||
  url.startsWith('/admin?') ||
  url.startsWith(AUTHORIZE_PATH) ||
  url.startsWith(`${RELINK_PREFIX}/`);

/**
 * The HTTP API (DESIGN §6). Fastify with zod schemas on every route, one error handler, no CORS,
 * request ids in every log line, a per-caller rate limit shared through Redis.
 */
export async function buildServer(app: AppContext, opts: ServerOptions = {}) {
  const server = Fastify({
    loggerInstance: app.logger,
    // Each request's logger is made when it first logs a line, not for every request.
    childLoggerFactory: lazyChildLoggerFactory,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // A client that sends its request slowly (a byte at a time) is cut off, not waited for.
    requestTimeout: opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    // Only listed proxies may set the client address (X-Forwarded-For); otherwise anyone could pick theirs.
    trustProxy: app.config.http.trustProxy,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._-]{1,128}$/.test(given) ? given : randomUUID();
    },
    // The router's own refusals, in our error shapes: a path that is not UTF-8 once percent-decoded
    // (400 bad_request), a path segment longer than any id (404, as an unknown id).
    frameworkErrors: (error, req, reply) => {
      const handler = errorHandlerForUrl(req.url);
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
        return handler(new AppError('not_found', 'Nothing exists at this path'), req, reply);
      }
      return handler(error.code === 'FST_ERR_BAD_URL' ? badUrlError(error) : error, req, reply);
    },
  }).withTypeProvider<ZodTypeProvider>();
  server.setValidatorCompiler(validatorCompiler);
  server.setSerializerCompiler(serializerCompiler);
  server.setErrorHandler(errorHandler);
  server.setNotFoundHandler((req, reply) =>
    reply.code(404).send({
      error: {
        code: 'not_found',
        message: `No route ${req.method} ${req.url.split('?')[0]}`,
        requestId: req.id,
      },
    }),
  );
  server.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-request-id', req.id);
    reply.header('x-content-type-options', 'nosniff');
    if (isBrowserPage(req.url)) {
      // Never framed (clickjacking); pages with a policy of their own already say frame-ancestors.
      reply.header('x-frame-options', 'DENY');
      if (!reply.hasHeader('content-security-policy')) {
        reply.header('content-security-policy', "frame-ancestors 'none'");
      }
    }
    return payload;
  });

  await server.register(formbody, { bodyLimit: opts.bodyLimit ?? 1024 * 1024 });
  addRateLimit(server, app, { ...app.config.apiRateLimit, ...opts.rateLimit });
  // After the limiter's own preValidation hook, so refused requests still count against the limit.
  // Not for bull-board: it reaches only Redis, and its own error handler makes every error a 500.
  server.addHook('preValidation', async (req) => {
    if (!req.routeOptions.url?.startsWith(QUEUES_BASE_PATH)) {
      await refuseUnstorableText(req);
    }
  });
  await server.register(swagger, {
    openapi: {
      info: {
        title: 'Enterprise Connect API',
        version: '1.0.0',
        description:
          'Cronofy-compatible Enterprise Connect. Errors: `{"error": {"code", "message", "requestId"}}` ' +
          '(codes from a closed set), 422 `{"errors": {"field": [{"key", "description"}]}}`, and at ' +
          '`/oauth/token*` RFC 6749 `{"error", "error_description"}`; every 429 has Retry-After.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: jsonSchemaTransform,
  });

  // Runs retried or cancelled through the API are audited (before the routes, so it applies to them).
  server.addHook('onSend', auditApiRunActions(app));
  await server.register(healthRoutes(app));
  await server.register(oauthRoutes(app));
  await server.register(serviceAccountRoutes(app));
  await server.register(serviceAccountDiagnosticsRoutes(app));
  await server.register(serviceAccountSettingsRoutes(app));
  await server.register(accountRoutes(app));
  await server.register(calendarDataRoutes(app));
  await server.register(availabilityRoutes(app));
  await server.register(channelRoutes(app));
  await server.register(provisioningRunRoutes(app));
  await server.register(auditEventRoutes(app));
  await server.register(authorizePageRoutes(app));
  await server.register(relinkRoutes(app));
  await server.register(adminPlugin(app, { queues: opts.queues, metrics: opts.metrics }));

  // The rendered reference at /docs and the raw document at /docs/json, every asset served from the
  // package (no CDN, nothing fetched at run time; no online validator).
  await server.register(swaggerUi, {
    routePrefix: '/docs',
    validatorUrl: false,
    uiConfig: { deepLinking: true, docExpansion: 'list' },
  });
  server.get('/docs/openapi.json', { schema: { hide: true } }, async () => server.swagger());
  return server;
}

export type Server = Awaited<ReturnType<typeof buildServer>>;
