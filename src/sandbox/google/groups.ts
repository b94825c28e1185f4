import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DirUser } from '../generate.js';
import { isDirectMember, isTransitiveMember, type SandboxGroup } from '../groups.js';
import { fnv, intParam, param } from '../http.js';
import { findOrgUnit, inOrgUnit, ORG_UNIT_PATHS, parentOf } from '../org-units.js';
import type { GoogleTenant, SandboxState } from '../state.js';
import { admitAdmin, knownCustomer, pagePosition } from './directory.js';
import { GOOGLE_ERRORS, sendGoogleError } from './errors.js';
import { authenticateGoogle } from './token.js';

/**
 * Admin SDK Directory org units, groups and members (an org with `structure` on), and the users.list
 * filters that go with them: `query=orgUnitPath=…` (the unit and everything below it, as Google
 * documents) and `domain=` (one of the org's domains).
 */

const SCOPE = 'https://www.googleapis.com/auth/';
const ORG_UNIT_SCOPES = [`${SCOPE}admin.directory.orgunit.readonly`, `${SCOPE}admin.directory.orgunit`];
const GROUP_SCOPES = [
  `${SCOPE}admin.directory.group.readonly`,
  `${SCOPE}admin.directory.group`,
  `${SCOPE}admin.directory.group.member.readonly`,
  `${SCOPE}admin.directory.group.member`,
];
const JSON_TYPE = 'application/json; charset=UTF-8';
/** members.list and groups.list allow at most 200 per page. */
const MAX_MEMBERS_PAGE = 200;

function renderOrgUnit(tenant: GoogleTenant, path: string): Record<string, unknown> {
  const parent = parentOf(path) ?? '/';
  const id = (p: string) => `id:03${fnv(`${tenant.customerId}|${p.toLowerCase()}`)}`;
  return {
    kind: 'admin#directory#orgUnit',
    etag: `"${fnv(`ou|${path}`)}"`,
    name: path.slice(path.lastIndexOf('/') + 1),
    description: '',
    orgUnitPath: path,
    orgUnitId: id(path),
    parentOrgUnitPath: parent,
    parentOrgUnitId: id(parent),
  };
}

function renderGroup(
  tenant: GoogleTenant,
  g: SandboxGroup,
  directMembersCount: number,
): Record<string, unknown> {
  return {
    kind: 'admin#directory#group',
    id: g.id,
    etag: `"${fnv(`group|${g.id}|${tenant.customerId}`)}"`,
    email: g.email,
    name: g.name,
    directMembersCount: String(directMembersCount),
    description: '',
    adminCreated: true,
    nonEditableAliases: [`${g.slug}@${tenant.org.domain}.test-google-a.com`],
  };
}

function findGroup(tenant: GoogleTenant, key: string): SandboxGroup | undefined {
  const k = key.toLowerCase();
  return tenant.org.groups.find((g) => g.email === k || g.id === k);
}

function renderMember(
  kind: 'USER' | 'GROUP',
  entry: { id: string; email: string },
  status?: string,
): Record<string, unknown> {
  return {
    kind: 'admin#directory#member',
    etag: `"${fnv(`member|${entry.id}`)}"`,
    id: entry.id,
    email: entry.email,
    role: 'MEMBER',
    type: kind,
    ...(status ? { status } : {}),
  };
}

export function registerGoogleGroups(app: FastifyInstance, state: SandboxState): void {
  const config = { kind: 'google-api' as const };

  app.get<{ Params: { customer: string } }>(
    '/admin/directory/v1/customer/:customer/orgunits',
    { config },
    (req, reply) => {
      const auth = authenticate(state, req, reply, ORG_UNIT_SCOPES);
      if (!auth) {
        return reply;
      }
      if (!knownCustomer(auth, req.params.customer)) {
        return GOOGLE_ERRORS.badRequest(reply);
      }
      const from = findOrgUnit(param(req.query, 'orgUnitPath') ?? '/') ?? '/';
      const type = param(req.query, 'type') ?? 'children';
      const units = (auth.org.structure ? ORG_UNIT_PATHS : ['/'])
        .filter((p) => p !== '/' || type === 'allIncludingParent')
        .filter((p) =>
          type === 'children'
            ? parentOf(p) === from
            : inOrgUnit(p, from, true) && (p !== from || from !== '/'),
        );
      return reply.header('content-type', JSON_TYPE).send({
        kind: 'admin#directory#orgUnits',
        etag: `"${fnv(`ous|${from}|${type}`)}"`,
        ...(units.length > 0 ? { organizationUnits: units.map((p) => renderOrgUnit(auth, p)) } : {}),
      });
    },
  );

  // orgunits.get: googleapis sends the path unescaped after the customer (`{+orgUnitPath}`).
  app.get<{ Params: { customer: string; '*': string } }>(
    '/admin/directory/v1/customer/:customer/orgunits/*',
    { config },
    (req, reply) => {
      const auth = authenticate(state, req, reply, ORG_UNIT_SCOPES);
      if (!auth) {
        return reply;
      }
      const unit = auth.org.structure ? findOrgUnit(decodeURIComponent(req.params['*'])) : undefined;
      if (!knownCustomer(auth, req.params.customer) || !unit || unit === '/') {
        return sendGoogleError(reply, 404, 'notFound', 'Org unit not found');
      }
      return reply.header('content-type', JSON_TYPE).send(renderOrgUnit(auth, unit));
    },
  );

  app.get('/admin/directory/v1/groups', { config }, (req, reply) => {
    const auth = authenticate(state, req, reply, GROUP_SCOPES);
    if (!auth) {
      return reply;
    }
    const customer = param(req.query, 'customer');
    const domain = param(req.query, 'domain');
    if (customer === undefined && domain === undefined) {
      return GOOGLE_ERRORS.badRequest(reply);
    }
    const groups = auth.org.groups;
    return reply.header('content-type', JSON_TYPE).send({
      kind: 'admin#directory#groups',
      etag: `"${fnv(`groups|${groups.length}`)}"`,
      ...(groups.length > 0 ? { groups: groups.map((g) => renderGroup(auth, g, directCount(auth, g))) } : {}),
    });
  });

  app.get<{ Params: { groupKey: string } }>(
    '/admin/directory/v1/groups/:groupKey',
    { config },
    (req, reply) => {
      const auth = authenticate(state, req, reply, GROUP_SCOPES);
      if (!auth) {
        return reply;
      }
      const g = findGroup(auth, req.params.groupKey);
      if (!g) {
        return sendGoogleError(reply, 404, 'notFound', 'Resource Not Found: groupKey');
      }
      return reply.header('content-type', JSON_TYPE).send(renderGroup(auth, g, directCount(auth, g)));
    },
  );

  // members.list: nested groups are listed as GROUP members; with includeDerivedMembership=true the
  // users of nested groups (at any depth) are listed too, once each.
  app.get<{ Params: { groupKey: string } }>(
    '/admin/directory/v1/groups/:groupKey/members',
    { config },
    (req, reply) => {
      const auth = authenticate(state, req, reply, GROUP_SCOPES);
      if (!auth) {
        return reply;
      }
      const g = findGroup(auth, req.params.groupKey);
      if (!g) {
        return sendGoogleError(reply, 404, 'notFound', 'Resource Not Found: groupKey');
      }
      const size = intParam(param(req.query, 'maxResults'), MAX_MEMBERS_PAGE, 1, MAX_MEMBERS_PAGE);
      if ('error' in size) {
        return GOOGLE_ERRORS.invalid(
          reply,
          `Invalid value '${size.error}'. Values must be within the range: [1, 200]`,
        );
      }
      const start = pagePosition(state, 'g.members', param(req.query, 'pageToken'));
      if (start === undefined) {
        return GOOGLE_ERRORS.invalid(reply, 'Invalid Input: pageToken');
      }
      const derived = param(req.query, 'includeDerivedMembership') === 'true';
      const seed = auth.org.seed;
      // Positions 0…k-1 are the nested groups, k… the users (user position + k).
      const nested = g.groups.map((slug) => auth.org.groups.find((x) => x.slug === slug)).filter((x) => !!x);
      const members: Record<string, unknown>[] = [];
      let pos = start;
      for (; pos < nested.length && members.length < size.value; pos++) {
        members.push(renderMember('GROUP', nested[pos] as SandboxGroup));
      }
      const accept = (u: DirUser) => (derived ? isTransitiveMember(seed, g, u) : isDirectMember(seed, g, u));
      let next: number | undefined;
      if (members.length < size.value) {
        const page = auth.org.users.page(
          Math.max(0, pos - nested.length),
          size.value - members.length,
          accept,
        );
        members.push(...page.items.map((u) => renderMember('USER', u, u.suspended ? 'SUSPENDED' : 'ACTIVE')));
        next = page.next === undefined ? undefined : page.next + nested.length;
      } else {
        next = pos < nested.length || auth.org.users.page(0, 1, accept).items.length > 0 ? pos : undefined;
      }
      return reply.header('content-type', JSON_TYPE).send({
        kind: 'admin#directory#members',
        etag: `"${fnv(`members|${g.id}|${start}|${members.length}`)}"`,
        ...(members.length > 0 ? { members } : {}),
        ...(next === undefined ? {} : { nextPageToken: state.pages.encode('g.members', g.index, next) }),
      });
    },
  );
}

function directCount(tenant: GoogleTenant, g: SandboxGroup): number {
  let n = g.groups.length;
  for (let p = 0; p < tenant.org.users.size; p++) {
    const u = tenant.org.users.at(p);
    if (u && isDirectMember(tenant.org.seed, g, u)) {
      n += 1;
    }
  }
  return n;
}

function authenticate(
  state: SandboxState,
  req: FastifyRequest,
  reply: FastifyReply,
  scopes: string[],
): GoogleTenant | undefined {
  const auth = authenticateGoogle(state, req, reply);
  if (!auth || !admitAdmin(state, auth.access, auth.tenant, scopes, reply)) {
    return undefined;
  }
  return auth.tenant;
}
