import type { FastifyInstance } from 'fastify';
import { odata } from './http.js';
import { sendGraphError } from './microsoft/errors.js';
import { contextUrl } from './microsoft/odata.js';
import { authenticateGraph } from './microsoft/token.js';
import { applicationRecord } from './permissions.js';
import type { SandboxState } from './state.js';

/**
 * What a live permission check reads that nothing else serves: Graph `GET /v1.0/applications` with
 * `$filter=appId eq '…'` (the one filter served), the app's own registration with its client secrets'
 * `passwordCredentials` (`endDateTime`, `hint`), for an app holding Application.Read.All (the
 * permission hook refuses it otherwise, as Graph does: 403 Authorization_RequestDenied).
 */
export function registerDiagnosticRoutes(app: FastifyInstance, state: SandboxState): void {
  if (!state.microsoft) {
    return;
  }
  app.get('/v1.0/applications', { config: { kind: 'graph' } }, (req, reply) => {
    const t = authenticateGraph(state, req, reply, true);
    if (!t) {
      return reply;
    }
    const filter = odata(req.query).get('$filter');
    const m = filter === undefined ? undefined : /^\s*appId\s+eq\s+'([0-9a-fA-F-]{1,64})'\s*$/.exec(filter);
    if (filter !== undefined && !m) {
      return sendGraphError(
        req,
        reply,
        400,
        'Request_UnsupportedQuery',
        'Unsupported or invalid query filter clause specified.',
      );
    }
    const record = applicationRecord(state);
    const matches = record && (!m || m[1]?.toLowerCase() === t.clientId.toLowerCase());
    return reply.send({
      '@odata.context': contextUrl(state, 'applications'),
      value: matches ? [record] : [],
    });
  });
}
