import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DirRoom, DirUser } from '../generate.js';
import { fnv, odata } from '../http.js';
import { SECONDARY_CALENDARS } from '../names.js';
import { upnOf } from '../org-shape.js';
import type { MicrosoftTenant, SandboxState } from '../state.js';
import { findGraphMailbox, serveAddressFilter } from './addresses.js';
import { GRAPH_ERRORS, sendGraphError } from './errors.js';
import { contextUrl, nextLink, project, selectParam, skipToken, topParam } from './odata.js';
import { authenticateGraph } from './token.js';

export const USER_PROPS = [
  'id',
  'displayName',
  'givenName',
  'surname',
  'mail',
  'userPrincipalName',
  'accountEnabled',
  'userType',
  'createdDateTime',
  'jobTitle',
  'officeLocation',
  'mobilePhone',
  'businessPhones',
  'preferredLanguage',
  'mailNickname',
  'department',
  'usageLocation',
] as const;
/** What `/users` returns without `$select` (accountEnabled only when selected, as in Graph). */
export const DEFAULT_USER_PROPS = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
] as const;

export function userRecord(u: DirUser): Record<string, unknown> {
  return {
    id: u.id,
    displayName: u.displayName,
    givenName: u.shared ? null : u.givenName,
    surname: u.shared ? null : u.familyName,
    mail: u.mailbox ? u.email : null,
    userPrincipalName: upnOf(u),
    // Shared mailboxes are disabled accounts, as in real tenants.
    accountEnabled: !u.suspended && !u.shared,
    userType: u.guest ? 'Guest' : 'Member',
    createdDateTime: u.createdAt.replace('.000Z', 'Z'),
    businessPhones: [],
    mailNickname: u.email.split('@')[0],
    usageLocation: 'GB',
  };
}

/** Room mailboxes also appear in `/users`, as disabled accounts. */
function roomUserRecord(r: DirRoom): Record<string, unknown> {
  return {
    id: r.id,
    displayName: r.name,
    givenName: null,
    surname: null,
    mail: r.email,
    userPrincipalName: r.email,
    accountEnabled: false,
    userType: 'Member',
    businessPhones: [],
    mailNickname: r.email.split('@')[0],
  };
}

/** `$filter=accountEnabled eq true|false` is the one filter served; undefined = none, null = bad. */
function enabledFilter(req: FastifyRequest): boolean | undefined | null {
  const raw = odata(req.query).get('$filter');
  if (raw === undefined) {
    return undefined;
  }
  const m = /^\s*accountEnabled\s+eq\s+(true|false)\s*$/i.exec(raw);
  return m ? m[1]?.toLowerCase() === 'true' : null;
}

function calendarRecord(owner: { name: string; address: string }, k: number): Record<string, unknown> {
  const primary = k === 0;
  return {
    id: `AAMkA${Buffer.from(`${owner.address.toLowerCase()}#${k}`).toString('base64url')}AAA=`,
    name: primary ? 'Calendar' : SECONDARY_CALENDARS[(k - 1) % SECONDARY_CALENDARS.length],
    color: primary ? 'auto' : 'lightBlue',
    hexColor: primary ? '' : '#a6d1f5',
    isDefaultCalendar: primary,
    changeKey: fnv(`${owner.address}|${k}`),
    canShare: true,
    canViewPrivateItems: true,
    canEdit: true,
    allowedOnlineMeetingProviders: ['teamsForBusiness'],
    defaultOnlineMeetingProvider: 'teamsForBusiness',
    isTallyingResponses: true,
    isRemovable: !primary,
    owner,
  };
}

/** The mailbox a calendar route addresses, after auth, existence, licence, access policy and quota. */
function mailbox(
  state: SandboxState,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
): { owner: { name: string; address: string }; calendars: number } | undefined {
  const t = authenticateGraph(state, req, reply, false);
  if (!t) {
    return undefined;
  }
  const found = t.org.findMailbox(req.params.id);
  if (!found) {
    GRAPH_ERRORS.invalidUser(req, reply, req.params.id);
    return undefined;
  }
  if ('user' in found && !found.user.mailbox) {
    GRAPH_ERRORS.noMailbox(req, reply);
    return undefined;
  }
  if ('user' in found && found.user.accessDenied) {
    GRAPH_ERRORS.accessPolicy(req, reply);
    return undefined;
  }
  const address = 'user' in found ? found.user.email : found.room.email;
  const wait = state.quotaGuard.graphMailboxCall(address.toLowerCase());
  if (wait !== undefined) {
    GRAPH_ERRORS.throttled(req, reply, wait);
    return undefined;
  }
  return 'user' in found
    ? { owner: { name: found.user.displayName, address }, calendars: 1 + found.user.secondaryCalendars }
    : { owner: { name: found.room.name, address }, calendars: 1 };
}

export function registerGraphUsers(app: FastifyInstance, state: SandboxState): void {
  const config = { kind: 'graph' as const };

  app.get('/v1.0/users', { config }, (req, reply) => {
    const t = authenticateGraph(state, req, reply, true);
    const top = t ? topParam(req, reply, 100, state.pageSize.graphTopMax) : undefined;
    const select = top === undefined ? undefined : selectParam(req, reply, USER_PROPS, 'user');
    const at = select === undefined ? undefined : skipToken(state, req, reply, 'm.users');
    if (!t || top === undefined || select === undefined || !at) {
      return reply;
    }
    if (
      serveAddressFilter(state, t, req, reply, select, {
        record: userRecord,
        defaultProps: DEFAULT_USER_PROPS,
      })
    ) {
      return reply;
    }
    const enabled = enabledFilter(req);
    if (enabled === null) {
      return sendGraphError(
        req,
        reply,
        400,
        'Request_UnsupportedQuery',
        'Unsupported or invalid query filter clause specified.',
      );
    }
    const page = usersPage(t, at, top, enabled);
    const props = select ?? DEFAULT_USER_PROPS;
    return reply.send({
      '@odata.context': contextUrl(state, select ? `users(${select.join(',')})` : 'users'),
      ...(page.next
        ? {
            '@odata.nextLink': nextLink(
              state,
              req,
              state.pages.encode('m.users', page.next.segment, page.next.pos),
            ),
          }
        : {}),
      value: page.items.map((r) => project(r, props)),
    });
  });

  app.get<{ Params: { id: string } }>('/v1.0/users/:id', { config }, (req, reply) => {
    const t = authenticateGraph(state, req, reply, true);
    const select = t && selectParam(req, reply, USER_PROPS, 'user');
    if (!t || select === undefined) {
      return reply;
    }
    const found = findGraphMailbox(t.org, req.params.id);
    if (!found) {
      return GRAPH_ERRORS.resourceNotFound(req, reply, req.params.id);
    }
    const record = 'user' in found ? userRecord(found.user) : roomUserRecord(found.room);
    return reply.send({
      '@odata.context': contextUrl(state, select ? `users(${select.join(',')})/$entity` : 'users/$entity'),
      ...project(record, select ?? DEFAULT_USER_PROPS),
    });
  });

  app.get<{ Params: { id: string } }>(
    '/v1.0/users/:id/calendar',
    { config: { ...config, mailboxParam: 'id' } },
    (req, reply) => {
      const box = mailbox(state, req, reply);
      if (!box) {
        return reply;
      }
      return reply.send({
        '@odata.context': contextUrl(state, `users('${encodeURIComponent(req.params.id)}')/calendar/$entity`),
        ...calendarRecord(box.owner, 0),
      });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1.0/users/:id/calendars',
    { config: { ...config, mailboxParam: 'id' } },
    (req, reply) => {
      const box = mailbox(state, req, reply);
      const top = box && topParam(req, reply, 10, state.pageSize.graphTopMax);
      const at = top ? skipToken(state, req, reply, 'm.cals') : undefined;
      if (!box || !top || !at) {
        return reply;
      }
      const end = Math.min(box.calendars, at.pos + top);
      const value = [];
      for (let k = at.pos; k < end; k++) {
        value.push(calendarRecord(box.owner, k));
      }
      return reply.send({
        '@odata.context': contextUrl(state, `users('${encodeURIComponent(req.params.id)}')/calendars`),
        ...(end < box.calendars
          ? { '@odata.nextLink': nextLink(state, req, state.pages.encode('m.cals', 0, end)) }
          : {}),
        value,
      });
    },
  );
}

type Cursor = { segment: number; pos: number };

/** `/users` lists the users (segment 0), then the room mailboxes (segment 1). */
function usersPage(
  t: MicrosoftTenant,
  at: Cursor,
  top: number,
  enabled: boolean | undefined,
): { items: Record<string, unknown>[]; next: Cursor | undefined } {
  const items: Record<string, unknown>[] = [];
  let roomStart = at.pos;
  if (at.segment === 0) {
    const accept =
      enabled === undefined ? undefined : (u: DirUser) => (!u.suspended && !u.shared) === enabled;
    const page = t.org.users.page(at.pos, top, accept);
    for (const u of page.items) {
      items.push(userRecord(u));
    }
    if (page.next !== undefined) {
      return { items, next: { segment: 0, pos: page.next } };
    }
    roomStart = 0;
  }
  if (enabled === true) {
    return { items, next: undefined }; // room mailboxes are all disabled accounts
  }
  const page = t.org.rooms.page(roomStart, top - items.length);
  for (const r of page.items) {
    items.push(roomUserRecord(r));
  }
  return { items, next: page.next === undefined ? undefined : { segment: 1, pos: page.next } };
}
