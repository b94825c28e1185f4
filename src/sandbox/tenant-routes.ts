import type { FastifyInstance } from 'fastify';
import type { DirRoom, DirUser } from './generate.js';
import { admitAdmin, knownCustomer } from './google/directory.js';
import { GOOGLE_ERRORS } from './google/errors.js';
import { authenticateGoogle } from './google/token.js';
import { fnv, intParam, param } from './http.js';
import { findGraphMailbox } from './microsoft/addresses.js';
import { sendGraphError } from './microsoft/errors.js';
import { contextUrl, project, selectParam } from './microsoft/odata.js';
import { authenticateGraph } from './microsoft/token.js';
import { initialDomain } from './org-shape.js';
import type { SandboxState } from './state.js';

const SCOPE = 'https://www.googleapis.com/auth/';
const DOMAIN_SCOPES = [`${SCOPE}admin.directory.domain.readonly`, `${SCOPE}admin.directory.domain`];
const RESOURCE_SCOPES = [
  `${SCOPE}admin.directory.resource.calendar.readonly`,
  `${SCOPE}admin.directory.resource.calendar`,
];
const JSON_UTF8 = 'application/json; charset=UTF-8';

/**
 * What a tenant says about itself and its addresses, in the providers' wire formats: Google
 * `domains.list` and `resources.buildings.list`; Graph `/domains`, `/users/{id}/mailboxSettings`
 * and `/users?$filter=` by mail or proxy address. Register before diagnostic-routes.ts (which
 * serves a bare buildings list only where no module does).
 */
export function registerTenantRoutes(app: FastifyInstance, state: SandboxState): void {
  if (state.google) {
    registerGoogleTenant(app, state);
  }
  if (state.microsoft) {
    registerGraphTenant(app, state);
  }
}

function registerGoogleTenant(app: FastifyInstance, state: SandboxState): void {
  const config = { kind: 'google-api' as const };
  app.get<{ Params: { customer: string } }>(
    '/admin/directory/v1/customer/:customer/domains',
    { config },
    (req, reply) => {
      const auth = authenticateGoogle(state, req, reply);
      if (!auth || !admitAdmin(state, auth.access, auth.tenant, DOMAIN_SCOPES, reply)) {
        return reply;
      }
      if (!knownCustomer(auth.tenant, req.params.customer)) {
        return GOOGLE_ERRORS.badRequest(reply);
      }
      const org = auth.tenant.org;
      return reply.header('content-type', JSON_UTF8).send({
        kind: 'admin#directory#domains',
        etag: `"${fnv(`domains|${org.domains.join(',')}`)}"`,
        domains: org.domains.map((domainName, k) => ({
          kind: 'admin#directory#domain',
          etag: `"${fnv(`domain|${domainName}`)}"`,
          domainName,
          isPrimary: k === 0,
          verified: true,
          creationTime: String(Date.UTC(2015, 0, 1 + k)),
        })),
      });
    },
  );

  app.get<{ Params: { customer: string } }>(
    '/admin/directory/v1/customer/:customer/resources/buildings',
    { config },
    (req, reply) => {
      const auth = authenticateGoogle(state, req, reply);
      if (!auth || !admitAdmin(state, auth.access, auth.tenant, RESOURCE_SCOPES, reply)) {
        return reply;
      }
      if (!knownCustomer(auth.tenant, req.params.customer)) {
        return GOOGLE_ERRORS.badRequest(reply);
      }
      const size = intParam(param(req.query, 'maxResults'), 100, 1, 500);
      if ('error' in size) {
        return GOOGLE_ERRORS.invalid(
          reply,
          `Invalid value '${size.error}'. Values must be within the range: [1, 500]`,
        );
      }
      const byId = new Map<string, string>();
      const org = auth.tenant.org;
      for (let pos = 0; pos < org.rooms.size; pos += 1000) {
        for (const r of org.rooms.page(pos, 1000).items) {
          if (r.building !== null) {
            byId.set(r.buildingId ?? r.building, r.building);
          }
        }
      }
      const buildings = [...byId]
        .sort((a, b) => a[1].localeCompare(b[1]))
        .slice(0, size.value)
        .map(([buildingId, buildingName]) => ({
          kind: 'admin#directory#resources#buildings#Building',
          etags: `"${fnv(`building|${buildingId}|${buildingName}`)}"`,
          buildingId,
          buildingName,
          floorNames: [],
        }));
      return reply.header('content-type', JSON_UTF8).send({
        kind: 'admin#directory#resources#buildings#buildingsList',
        etag: `"${fnv(`buildings|${buildings.length}`)}"`,
        ...(buildings.length > 0 ? { buildings } : {}),
      });
    },
  );
}

function mailboxPurpose(found: { user: DirUser } | { room: DirRoom }): string {
  if ('room' in found) {
    return found.room.category === 'OTHER' ? 'equipment' : 'room';
  }
  return found.user.shared ? 'shared' : 'user';
}

const MAILBOX_SETTINGS_PROPS = ['userPurpose', 'timeZone', 'language', 'dateFormat', 'timeFormat'] as const;

function registerGraphTenant(app: FastifyInstance, state: SandboxState): void {
  const config = { kind: 'graph' as const };
  app.get('/v1.0/domains', { config }, (req, reply) => {
    const t = authenticateGraph(state, req, reply, true);
    const select = t && selectParam(req, reply, ['id', 'isVerified', 'isDefault', 'isInitial'], 'domain');
    if (!t || select === undefined) {
      return reply;
    }
    const ids = [...t.org.domains, initialDomain(t.org.domain)];
    const value = ids.map((id, k) => ({
      authenticationType: 'Managed',
      availabilityStatus: null,
      id,
      isAdminManaged: true,
      isDefault: k === 0,
      isInitial: k === ids.length - 1,
      isRoot: true,
      isVerified: true,
      supportedServices: ['Email', 'OfficeCommunicationsOnline'],
    }));
    return reply.send({
      '@odata.context': contextUrl(state, 'domains'),
      value: select ? value.map((d) => project(d, select)) : value,
    });
  });

  app.get<{ Params: { id: string } }>('/v1.0/users/:id/mailboxSettings', { config }, (req, reply) => {
    const t = authenticateGraph(state, req, reply, false);
    const select = t && selectParam(req, reply, MAILBOX_SETTINGS_PROPS, 'mailboxSettings');
    if (!t || select === undefined) {
      return reply;
    }
    const found = findGraphMailbox(t.org, req.params.id);
    if (!found) {
      return sendGraphError(
        req,
        reply,
        404,
        'ErrorInvalidUser',
        `The requested user '${req.params.id}' is invalid.`,
      );
    }
    const record = {
      userPurpose: mailboxPurpose(found),
      timeZone: 'user' in found ? found.user.timeZone : 'UTC',
      language: { locale: 'en-GB', displayName: 'English (United Kingdom)' },
      dateFormat: 'dd/MM/yyyy',
      timeFormat: 'HH:mm',
    };
    return reply.send({
      '@odata.context': contextUrl(state, `users('${encodeURIComponent(req.params.id)}')/mailboxSettings`),
      ...(select ? project(record, select) : record),
    });
  });
}
