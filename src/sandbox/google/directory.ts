import type { FastifyInstance, FastifyReply } from 'fastify';
import type { DirRoom, DirUser } from '../generate.js';
import { fnv, intParam, param } from '../http.js';
import { orgUnitOf } from '../org-units.js';
import type { GoogleTenant, SandboxState } from '../state.js';
import { GOOGLE_ERRORS, sendGoogleError } from './errors.js';
import { authenticateGoogle, hasScope } from './token.js';
import { usersListFilter } from './users-filter.js';

const SCOPE = 'https://www.googleapis.com/auth/';
const USER_SCOPES = [`${SCOPE}admin.directory.user.readonly`, `${SCOPE}admin.directory.user`];
const ROOM_SCOPES = [
  `${SCOPE}admin.directory.resource.calendar.readonly`,
  `${SCOPE}admin.directory.resource.calendar`,
];

export function renderGoogleUser(u: DirUser, tenant: GoogleTenant): Record<string, unknown> {
  return {
    kind: 'admin#directory#user',
    id: u.id,
    etag: `"${fnv(`${u.id}|${u.displayName}|${u.suspended}|${u.mailbox}`)}"`,
    primaryEmail: u.email,
    name: {
      givenName: u.givenName,
      familyName: u.familyName,
      fullName: u.displayName,
      displayName: u.displayName,
    },
    isAdmin: u.admin,
    isDelegatedAdmin: false,
    lastLoginTime: u.createdAt,
    creationTime: u.createdAt,
    agreedToTerms: true,
    suspended: u.suspended,
    ...(u.suspended ? { suspensionReason: 'ADMIN' } : {}),
    archived: false,
    changePasswordAtNextLogin: false,
    ipWhitelisted: false,
    emails: [{ address: u.email, primary: true }],
    customerId: tenant.customerId,
    orgUnitPath: tenant.org.structure ? orgUnitOf(tenant.org.seed, u) : '/',
    isMailboxSetup: u.mailbox,
    isEnrolledIn2Sv: false,
    isEnforcedIn2Sv: false,
    includeInGlobalAddressList: true,
  };
}

export function generatedResourceName(r: DirRoom): string {
  const place = [r.building, r.floorLabel].filter((x) => x !== null).join('-');
  return `${place ? `${place}-` : ''}${r.name}${r.capacity === null ? '' : ` (${r.capacity})`}`;
}

export function renderGoogleRoom(r: DirRoom): Record<string, unknown> {
  return {
    kind: 'admin#directory#resources#calendars#CalendarResource',
    etags: `"${fnv(`${r.id}|${r.name}|${r.capacity}|${r.building}|${r.floorLabel}`)}"`,
    resourceId: r.resourceId,
    resourceName: r.name,
    generatedResourceName: generatedResourceName(r),
    resourceType: r.category === 'OTHER' ? 'Equipment' : 'Conference room',
    resourceEmail: r.email,
    ...(r.capacity === null ? {} : { capacity: r.capacity }),
    ...(r.building === null ? {} : { buildingId: r.buildingId ?? r.building }),
    ...(r.floorLabel === null ? {} : { floorName: r.floorLabel }),
    resourceCategory: r.category,
  };
}

/** Admin SDK calls need an admin subject holding one of `scopes`; sends the 403 otherwise. */
export function admitAdmin(
  state: SandboxState,
  access: { sub: string; scopes: string[] },
  tenant: GoogleTenant,
  scopes: string[],
  reply: FastifyReply,
): boolean {
  if (!hasScope({ ...access, exp: 0, epoch: 0 }, scopes)) {
    GOOGLE_ERRORS.insufficientScopes(reply);
    return false;
  }
  if (!access.sub || !tenant.org.users.find(access.sub)?.admin) {
    GOOGLE_ERRORS.forbidden(reply);
    return false;
  }
  const wait = state.quotaGuard.directoryCall();
  if (wait !== undefined) {
    GOOGLE_ERRORS.quota(reply, state.quotas.googleQuotaStatus, false, wait);
    return false;
  }
  return true;
}

export function knownCustomer(tenant: GoogleTenant, customer: string): boolean {
  return customer === 'my_customer' || customer === tenant.customerId;
}

export function registerGoogleDirectory(app: FastifyInstance, state: SandboxState): void {
  const config = { kind: 'google-api' as const };

  app.get('/admin/directory/v1/users', { config }, (req, reply) => {
    const auth = authenticateGoogle(state, req, reply);
    if (!auth || !admitAdmin(state, auth.access, auth.tenant, USER_SCOPES, reply)) {
      return reply;
    }
    const { tenant } = auth;
    const customer = param(req.query, 'customer');
    const domain = param(req.query, 'domain');
    if (customer === undefined && domain === undefined) {
      return GOOGLE_ERRORS.badRequest(reply);
    }
    if (
      (customer !== undefined && !knownCustomer(tenant, customer)) ||
      (domain !== undefined && !tenant.org.domains.includes(domain.toLowerCase()))
    ) {
      return GOOGLE_ERRORS.forbidden(reply);
    }
    const max = state.pageSize.googleUsersMax;
    const size = intParam(param(req.query, 'maxResults'), Math.min(100, max), 1, max);
    if ('error' in size) {
      return sendGoogleError(
        reply,
        400,
        'invalid',
        `Invalid value '${size.error}'. Values must be within the range: [1, ${max}]`,
        {
          extra: { location: 'maxResults', locationType: 'parameter' },
        },
      );
    }
    const start = pagePosition(state, 'g.users', param(req.query, 'pageToken'));
    if (start === undefined) {
      return GOOGLE_ERRORS.invalid(reply, 'Invalid Input: pageToken');
    }
    const accept = usersListFilter(tenant, param(req.query, 'query'), domain);
    if (typeof accept === 'string') {
      return GOOGLE_ERRORS.invalid(reply, accept);
    }
    const page = tenant.org.users.page(start, size.value, accept);
    return reply.header('content-type', 'application/json; charset=UTF-8').send({
      kind: 'admin#directory#users',
      etag: `"${fnv(`users|${start}|${page.items.length}|${page.next}`)}"`,
      ...(page.items.length > 0 ? { users: page.items.map((u) => renderGoogleUser(u, tenant)) } : {}),
      ...(page.next === undefined ? {} : { nextPageToken: state.pages.encode('g.users', 0, page.next) }),
    });
  });

  // users.get: one user by primary email or id (what an adapter uses to resolve one email).
  app.get<{ Params: { userKey: string } }>('/admin/directory/v1/users/:userKey', { config }, (req, reply) => {
    const auth = authenticateGoogle(state, req, reply);
    if (!auth || !admitAdmin(state, auth.access, auth.tenant, USER_SCOPES, reply)) {
      return reply;
    }
    const user = auth.tenant.org.users.find(req.params.userKey);
    if (!user) {
      return sendGoogleError(reply, 404, 'notFound', 'Resource Not Found: userKey');
    }
    return reply
      .header('content-type', 'application/json; charset=UTF-8')
      .send(renderGoogleUser(user, auth.tenant));
  });

  app.get<{ Params: { customer: string } }>(
    '/admin/directory/v1/customer/:customer/resources/calendars',
    { config },
    (req, reply) => {
      const auth = authenticateGoogle(state, req, reply);
      if (!auth || !admitAdmin(state, auth.access, auth.tenant, ROOM_SCOPES, reply)) {
        return reply;
      }
      if (!knownCustomer(auth.tenant, req.params.customer)) {
        return GOOGLE_ERRORS.badRequest(reply);
      }
      const size = intParam(param(req.query, 'maxResults'), 100, 1, 500);
      if ('error' in size) {
        return sendGoogleError(
          reply,
          400,
          'invalid',
          `Invalid value '${size.error}'. Values must be within the range: [1, 500]`,
          {
            extra: { location: 'maxResults', locationType: 'parameter' },
          },
        );
      }
      // The one query form adapters use: an exact resourceEmail match, answered as a single page.
      const query = param(req.query, 'query');
      const byEmail = query === undefined ? undefined : /^resourceEmail\s*=\s*"?([^"\s]+)"?$/.exec(query);
      if (query !== undefined && !byEmail) {
        return GOOGLE_ERRORS.invalid(reply, 'Invalid Input: query');
      }
      if (byEmail?.[1]) {
        const room = auth.tenant.org.rooms.find(byEmail[1]);
        return reply.header('content-type', 'application/json; charset=UTF-8').send({
          kind: 'admin#directory#resources#calendars#calendarResourcesList',
          etag: `"${fnv(`rooms|q|${room?.id ?? ''}`)}"`,
          items: room ? [renderGoogleRoom(room)] : [],
        });
      }
      const start = pagePosition(state, 'g.rooms', param(req.query, 'pageToken'));
      if (start === undefined) {
        return GOOGLE_ERRORS.invalid(reply, 'Invalid Input: pageToken');
      }
      const page = auth.tenant.org.rooms.page(start, size.value);
      return reply.header('content-type', 'application/json; charset=UTF-8').send({
        kind: 'admin#directory#resources#calendars#calendarResourcesList',
        etag: `"${fnv(`rooms|${start}|${page.items.length}|${page.next}`)}"`,
        items: page.items.map(renderGoogleRoom),
        ...(page.next === undefined ? {} : { nextPageToken: state.pages.encode('g.rooms', 0, page.next) }),
      });
    },
  );
}

/** Position a Google page token points at: 0 without a token, undefined for a bad one. */
export function pagePosition(
  state: SandboxState,
  kind: string,
  token: string | undefined,
): number | undefined {
  if (token === undefined || token === '') {
    return 0;
  }
  return state.pages.decode(kind, token)?.pos;
}
