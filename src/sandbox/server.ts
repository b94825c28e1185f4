import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { registerControl } from './control.js';
import { registerDiagnosticRoutes } from './diagnostic-routes.js';
import { createFaultHook } from './faults.js';
import { registerGoogleCalendar } from './google/calendar.js';
import { registerGoogleCalendarData } from './google/calendar-data.js';
import { registerGoogleDirectory } from './google/directory.js';
import { GOOGLE_ERRORS, sendGoogleError, sendGoogleTokenError } from './google/errors.js';
import { registerGoogleGroups } from './google/groups.js';
import { registerGoogleToken } from './google/token.js';
import { registerGraphBatch } from './microsoft/batch.js';
import { registerGraphCalendarData } from './microsoft/calendar-data.js';
import { sendAadError, sendGraphError } from './microsoft/errors.js';
import { registerGraphUsers } from './microsoft/graph.js';
import { registerGraphGroups } from './microsoft/groups.js';
import { registerGraphPlaces } from './microsoft/places.js';
import { registerMicrosoftToken } from './microsoft/token.js';
import { createPermissionHook, registerPermissionSwitches } from './permissions.js';
import type { SandboxState } from './state.js';
import { registerStructureControl } from './structure-control.js';
import { registerTenantRoutes } from './tenant-routes.js';

/** Routes with no match, in the wire format their path prefix belongs to. */
function notFound(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = req.url.split('?')[0] ?? '';
  if (path.startsWith('/v1.0/')) {
    const segment = path.split('/').filter(Boolean).pop() ?? '';
    return sendGraphError(req, reply, 400, 'BadRequest', `Resource not found for the segment '${segment}'.`);
  }
  if (path.startsWith('/admin/') || path.startsWith('/calendar/')) {
    return GOOGLE_ERRORS.notFound(reply);
  }
  return reply.code(404).send({ error: `no route ${req.method} ${path}` });
}

/** Bad input that fastify itself refused (unparseable body, wrong content type): a 400, never a 500. */
function onError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
  const message = status === 500 ? 'internal sandbox error' : err.message;
  switch (req.routeOptions.config?.kind) {
    case 'google-api':
      return sendGoogleError(reply, status, status === 500 ? 'backendError' : 'badRequest', message);
    case 'google-token':
      return sendGoogleTokenError(reply, status, 'invalid_request', message);
    case 'microsoft-token':
      return sendAadError(reply, status, 'invalid_request', 900144, message);
    case 'graph':
      return sendGraphError(req, reply, status, status === 500 ? 'generalException' : 'BadRequest', message);
    default:
      return reply.code(status).send({ error: message });
  }
}

/** The sandbox's one HTTP origin: Google, Microsoft login, Graph and the control API. */
export function buildServer(state: SandboxState, held: Set<NodeJS.Timeout>): FastifyInstance {
  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    // UPNs and room emails (percent-encoded unicode) are long path parameters.
    routerOptions: { maxParamLength: 2048 },
    bodyLimit: 1024 * 1024,
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.addHook('preHandler', createFaultHook(state, held));
  app.addHook('preHandler', createPermissionHook(state));
  app.addHook('onResponse', async (req, reply) => {
    const kind = req.routeOptions.config?.kind;
    if (kind === 'control' || req.url.startsWith('/_sandbox') || req.routeOptions.config?.envelope) {
      return;
    }
    state.counters.call(req.method, req.routeOptions.url ?? '(unmatched)', reply.statusCode);
  });
  app.setNotFoundHandler(notFound);
  app.setErrorHandler(onError);

  if (state.google) {
    registerGoogleToken(app, state);
    registerGoogleDirectory(app, state);
    registerGoogleGroups(app, state);
    registerGoogleCalendar(app, state);
    registerGoogleCalendarData(app, state);
  }
  if (state.microsoft) {
    registerMicrosoftToken(app, state);
    registerGraphUsers(app, state);
    registerGraphGroups(app, state);
    registerGraphPlaces(app, state);
    registerGraphCalendarData(app, state);
    registerGraphBatch(app, state);
  }
  registerControl(app, state);
  registerStructureControl(app, state);
  registerPermissionSwitches(app, state);
  registerTenantRoutes(app, state);
  registerDiagnosticRoutes(app, state);
  app.addHook('onClose', async () => {
    for (const t of held) {
      clearTimeout(t);
    }
    held.clear();
  });
  return app;
}
