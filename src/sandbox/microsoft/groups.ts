import type { FastifyInstance } from 'fastify';
import type { DirUser } from '../generate.js';
import { isDirectMember, isTransitiveMember, type SandboxGroup } from '../groups.js';
import { fnv } from '../http.js';
import type { MicrosoftTenant, SandboxState } from '../state.js';
import { GRAPH_ERRORS } from './errors.js';
import { DEFAULT_USER_PROPS, USER_PROPS, userRecord } from './graph.js';
import { contextUrl, nextLink, project, selectParam, skipToken, topParam } from './odata.js';
import { authenticateGraph } from './token.js';

/**
 * Graph `/groups`, `/groups/{id}` and `/groups/{id}/transitiveMembers/microsoft.graph.user` (the
 * users of the group and of every group nested in it, once each, paged with `@odata.nextLink`), for
 * an org with `structure` on.
 */

function groupRecord(t: MicrosoftTenant, g: SandboxGroup): Record<string, unknown> {
  return {
    id: g.id,
    displayName: g.name,
    description: null,
    mail: g.email,
    mailEnabled: true,
    mailNickname: g.slug,
    securityEnabled: false,
    groupTypes: ['Unified'],
    visibility: 'Private',
    createdDateTime: '2020-01-01T00:00:00Z',
    renewedDateTime: '2020-01-01T00:00:00Z',
    // A stable value per tenant and group, as Graph's.
    onPremisesSyncEnabled: null,
    securityIdentifier: `S-1-12-1-${fnv(`${t.tenantId}|${g.id}`)}`,
  };
}

const GROUP_PROPS = [
  'id',
  'displayName',
  'description',
  'mail',
  'mailEnabled',
  'mailNickname',
  'securityEnabled',
  'groupTypes',
  'visibility',
  'createdDateTime',
  'renewedDateTime',
  'onPremisesSyncEnabled',
  'securityIdentifier',
] as const;

function findGroup(t: MicrosoftTenant, id: string): SandboxGroup | undefined {
  const k = id.toLowerCase();
  return t.org.groups.find((g) => g.id === k);
}

export function registerGraphGroups(app: FastifyInstance, state: SandboxState): void {
  const config = { kind: 'graph' as const };

  app.get('/v1.0/groups', { config }, (req, reply) => {
    const t = authenticateGraph(state, req, reply, true);
    const top = t ? topParam(req, reply, 100, state.pageSize.graphTopMax) : undefined;
    const select = top === undefined ? undefined : selectParam(req, reply, GROUP_PROPS, 'group');
    const at = select === undefined ? undefined : skipToken(state, req, reply, 'm.groups');
    if (!t || top === undefined || select === undefined || !at) {
      return reply;
    }
    const all = t.org.groups;
    const items = all.slice(at.pos, at.pos + top);
    const next = at.pos + top < all.length ? at.pos + top : undefined;
    return reply.send({
      '@odata.context': contextUrl(state, 'groups'),
      ...(next === undefined
        ? {}
        : { '@odata.nextLink': nextLink(state, req, state.pages.encode('m.groups', 0, next)) }),
      value: items.map((g) => project(groupRecord(t, g), select ?? GROUP_PROPS)),
    });
  });

  app.get<{ Params: { id: string } }>('/v1.0/groups/:id', { config }, (req, reply) => {
    const t = authenticateGraph(state, req, reply, true);
    const select = t && selectParam(req, reply, GROUP_PROPS, 'group');
    if (!t || select === undefined) {
      return reply;
    }
    const g = findGroup(t, req.params.id);
    if (!g) {
      return GRAPH_ERRORS.resourceNotFound(req, reply, req.params.id);
    }
    return reply.send({
      '@odata.context': contextUrl(state, 'groups/$entity'),
      ...project(groupRecord(t, g), select ?? GROUP_PROPS),
    });
  });

  for (const transitive of [true, false]) {
    const path = `/v1.0/groups/:id/${transitive ? 'transitiveMembers' : 'members'}/microsoft.graph.user`;
    const kind = transitive ? 'm.tmembers' : 'm.members';
    app.get<{ Params: { id: string } }>(path, { config }, (req, reply) => {
      const t = authenticateGraph(state, req, reply, true);
      const top = t ? topParam(req, reply, 100, state.pageSize.graphTopMax) : undefined;
      const select = top === undefined ? undefined : selectParam(req, reply, USER_PROPS, 'user');
      const at = select === undefined ? undefined : skipToken(state, req, reply, kind);
      if (!t || top === undefined || select === undefined || !at) {
        return reply;
      }
      const g = findGroup(t, req.params.id);
      if (!g) {
        return GRAPH_ERRORS.resourceNotFound(req, reply, req.params.id);
      }
      const seed = t.org.seed;
      const accept = (u: DirUser) =>
        transitive ? isTransitiveMember(seed, g, u) : isDirectMember(seed, g, u);
      const page = t.org.users.page(at.pos, top, accept);
      const props = select ?? DEFAULT_USER_PROPS;
      return reply.send({
        '@odata.context': contextUrl(state, select ? `users(${select.join(',')})` : 'users'),
        ...(page.next === undefined
          ? {}
          : { '@odata.nextLink': nextLink(state, req, state.pages.encode(kind, g.index, page.next)) }),
        value: page.items.map((u) => project(userRecord(u), props)),
      });
    });
  }
}
