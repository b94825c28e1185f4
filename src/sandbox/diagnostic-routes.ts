import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { GOOGLE_ERRORS } from './google/errors.js';
import { authenticateGoogle, hasScope } from './google/token.js';
import { fnv, intParam, odata, param } from './http.js';
import { sendGraphError } from './microsoft/errors.js';
import { contextUrl } from './microsoft/odata.js';
import { authenticateGraph } from './microsoft/token.js';
import { applicationRecord } from './permissions.js';
import type { SandboxState } from './state.js';

const SCOPE = 'https://www.googleapis.com/auth/';
const RESOURCE_SCOPES = [
  `${SCOPE}admin.directory.resource.calendar.readonly`,
  `${SCOPE}admin.directory.resource.calendar`,
];
const GROUP_SCOPES = [`${SCOPE}admin.directory.group.readonly`, `${SCOPE}admin.directory.group`];

/**
 * The few list calls a live permission check makes that provisioning does not: Google
 * `resources.buildings.list` and `groups.list`, Graph `/groups` and `/applications?$filter=appId eq …`.
 * Each is registered only when no other module serves it already (org shapes with buildings or
 * groups bring their own, full routes): register this after them.
 */
export function registerDiagnosticRoutes(app: FastifyInstance, state: SandboxState): void {
  const free = (method: HTTPMethods, url: string) => !app.hasRoute({ method, url });

  if (state.google) {
    const admit = (req: FastifyRequest, reply: FastifyReply, scopes: string[]) => {
      const auth = authenticateGoogle(state, req, reply);
      if (!auth) {
        return undefined;
      }
      if (!hasScope(auth.access, scopes)) {
        GOOGLE_ERRORS.insufficientScopes(reply);
        return undefined;
      }
      if (!auth.access.sub || !auth.tenant.org.users.find(auth.access.sub)?.admin) {
        GOOGLE_ERRORS.forbidden(reply);
        return undefined;
      }
      const wait = state.quotaGuard.directoryCall();
      if (wait !== undefined) {
        GOOGLE_ERRORS.quota(reply, state.quotas.googleQuotaStatus, false, wait);
        return undefined;
      }
      return auth;
    };
    const buildingsUrl = '/admin/directory/v1/customer/:customer/resources/buildings';
    if (free('GET', buildingsUrl)) {
      app.get<{ Params: { customer: string } }>(
        buildingsUrl,
        { config: { kind: 'google-api' } },
        (req, reply) => {
          const auth = admit(req, reply, RESOURCE_SCOPES);
          if (!auth) {
            return reply;
          }
          const c = req.params.customer;
          if (c !== 'my_customer' && c !== auth.tenant.customerId) {
            return GOOGLE_ERRORS.badRequest(reply);
          }
          const size = intParam(param(req.query, 'maxResults'), 100, 1, 500);
          if ('error' in size) {
            return GOOGLE_ERRORS.invalid(
              reply,
              `Invalid value '${size.error}'. Values must be within the range: [1, 500]`,
            );
          }
          const names = new Set<string>();
          for (const r of auth.tenant.org.rooms.page(0, 10_000).items) {
            if (r.building) {
              names.add(r.building);
            }
          }
          const buildings = [...names]
            .sort()
            .slice(0, size.value)
            .map((name) => ({
              kind: 'admin#directory#resources#buildings#Building',
              etags: `"${fnv(`building|${name}`)}"`,
              buildingId: name,
              buildingName: name,
              floorNames: [],
            }));
          return reply.header('content-type', 'application/json; charset=UTF-8').send({
            kind: 'admin#directory#resources#buildings#buildingsList',
            etag: `"${fnv(`buildings|${buildings.length}`)}"`,
            ...(buildings.length > 0 ? { buildings } : {}),
          });
        },
      );
    }
    if (free('GET', '/admin/directory/v1/groups')) {
      app.get('/admin/directory/v1/groups', { config: { kind: 'google-api' } }, (req, reply) => {
        const auth = admit(req, reply, GROUP_SCOPES);
        if (!auth) {
          return reply;
        }
        if (param(req.query, 'customer') === undefined && param(req.query, 'domain') === undefined) {
          return GOOGLE_ERRORS.badRequest(reply);
        }
        // The default sandbox org has no groups: Google omits `groups` from an empty list.
        return reply
          .header('content-type', 'application/json; charset=UTF-8')
          .send({ kind: 'admin#directory#groups', etag: `"${fnv('groups|0')}"` });
      });
    }
  }

  if (state.microsoft) {
    if (free('GET', '/v1.0/groups')) {
      app.get('/v1.0/groups', { config: { kind: 'graph' } }, (req, reply) => {
        const t = authenticateGraph(state, req, reply, true);
        if (!t) {
          return reply;
        }
        return reply.send({ '@odata.context': contextUrl(state, 'groups'), value: [] });
      });
    }
    if (free('GET', '/v1.0/applications')) {
      app.get('/v1.0/applications', { config: { kind: 'graph' } }, (req, reply) => {
        const t = authenticateGraph(state, req, reply, true);
        if (!t) {
          return reply;
        }
        const filter = odata(req.query).get('$filter');
        const m =
          filter === undefined ? undefined : /^\s*appId\s+eq\s+'([0-9a-fA-F-]{1,64})'\s*$/.exec(filter);
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
  }
}
