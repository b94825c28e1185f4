import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parse } from './control-input.js';
import { sendGoogleError } from './google/errors.js';
import { bearer } from './http.js';
import { sendGraphError } from './microsoft/errors.js';
import { guidOf, mix } from './prng.js';
import type { SandboxState } from './state.js';

/**
 * Permission switches beyond delegation and consent, each failing one check of a live permission
 * check the way the real provider does:
 * - Google: an API not enabled in the Cloud project (403 `accessNotConfigured`, on every call of that
 *   API), or a privilege missing from the impersonated admin's role (Directory 403 `forbidden`
 *   "Not Authorized to access this resource/api"). A scope withdrawn from the domain-wide delegation is
 *   `POST /_sandbox/google/delegation {granted: true, scopes: […]}` (the token endpoint refuses it).
 * - Microsoft: an application permission removed from the app (its tokens lose that role; Graph answers
 *   403 `Authorization_RequestDenied` on directory routes and `ErrorAccessDenied` on mailbox and place
 *   routes), and the app's client-secret end date (`passwordCredentials[].endDateTime`). A mailbox
 *   outside the application access policy is `PATCH /_sandbox/microsoft/users/{email} {accessDenied: true}`.
 */

export const GOOGLE_APIS = ['admin', 'calendar'] as const;
export type GoogleApiName = (typeof GOOGLE_APIS)[number];
export const GOOGLE_PRIVILEGES = ['users', 'groups', 'resources'] as const;
export type GooglePrivilege = (typeof GOOGLE_PRIVILEGES)[number];

/** Roles the sandbox app holds besides token.ts's own list: groups, and reading its own registration. */
export const EXTRA_GRAPH_ROLES = ['Group.Read.All', 'Application.Read.All'] as const;

export type PermissionSwitches = {
  google: { disabledApis: GoogleApiName[]; withdrawnPrivileges: GooglePrivilege[] };
  microsoft: { withdrawnRoles: string[]; secretEndDateTime: string; secretStartDateTime: string };
};

const DAY_MS = 86_400_000;
const switches = new WeakMap<SandboxState, PermissionSwitches>();

export function permissionsOf(state: SandboxState): PermissionSwitches {
  let s = switches.get(state);
  if (!s) {
    const now = Date.now();
    s = {
      google: { disabledApis: [], withdrawnPrivileges: [] },
      microsoft: {
        withdrawnRoles: [],
        secretStartDateTime: new Date(now - 30 * DAY_MS).toISOString(),
        secretEndDateTime: new Date(now + 335 * DAY_MS).toISOString(),
      },
    };
    switches.set(state, s);
  }
  return s;
}

/** The roles a new Graph token carries: token.ts's list, the extra ones, minus the withdrawn ones. */
export function grantedGraphRoles(state: SandboxState, base: readonly string[]): string[] {
  const withdrawn = new Set(permissionsOf(state).microsoft.withdrawnRoles);
  return [...new Set([...base, ...EXTRA_GRAPH_ROLES])].filter((r) => !withdrawn.has(r));
}

/** The Cloud project number Google names in `accessNotConfigured` (deterministic from the seed). */
export function projectNumber(state: SandboxState): string {
  return String(100_000_000_000 + (mix(state.seed, 3, 0x9e) % 900_000_000_000));
}

const API_TITLES: Record<GoogleApiName, { title: string; service: string }> = {
  admin: { title: 'Admin SDK API', service: 'admin.googleapis.com' },
  calendar: { title: 'Google Calendar API', service: 'calendar-json.googleapis.com' },
};

/** Google's answer for a call to an API not enabled in the project (the real body, details included). */
export function sendAccessNotConfigured(reply: FastifyReply, state: SandboxState, api: GoogleApiName) {
  const project = projectNumber(state);
  const { title, service } = API_TITLES[api];
  const url = `https://console.developers.google.com/apis/api/${service}/overview?project=${project}`;
  const message = `${title} has not been used in project ${project} before or it is disabled. Enable it by visiting ${url} then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.`;
  reply.header('content-type', 'application/json; charset=UTF-8');
  return reply.code(403).send({
    error: {
      code: 403,
      message,
      errors: [
        {
          message,
          domain: 'usageLimits',
          reason: 'accessNotConfigured',
          extendedHelp: 'https://console.developers.google.com',
        },
      ],
      status: 'PERMISSION_DENIED',
      details: [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'SERVICE_DISABLED',
          domain: 'googleapis.com',
          metadata: {
            consumer: `projects/${project}`,
            service,
            serviceTitle: title,
            activationUrl: url,
            containerInfo: project,
          },
        },
        {
          '@type': 'type.googleapis.com/google.rpc.Help',
          links: [{ description: 'Google developers console API activation', url }],
        },
      ],
    },
  });
}

/** Which admin privilege a Directory path needs. */
function privilegeOf(path: string): GooglePrivilege | undefined {
  if (!path.startsWith('/admin/directory/v1/')) {
    return undefined;
  }
  if (path.startsWith('/admin/directory/v1/users')) {
    return 'users';
  }
  if (path.startsWith('/admin/directory/v1/groups')) {
    return 'groups';
  }
  return /\/resources\//.test(path) ? 'resources' : undefined;
}

/** The Graph application permissions that allow a path (any one of them). */
function graphRolesFor(path: string): { roles: string[]; directory: boolean } | undefined {
  const p = path.replace(/^\/v1\.0/, '');
  if (/^\/users\/[^/]+\/calendars?(\/|$)/.test(p)) {
    return { roles: ['Calendars.Read', 'Calendars.ReadWrite'], directory: false };
  }
  if (p === '/users' || /^\/users\/[^/]+$/.test(p)) {
    return { roles: ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All'], directory: true };
  }
  if (p.startsWith('/places')) {
    return { roles: ['Place.Read.All', 'Place.ReadWrite.All'], directory: false };
  }
  if (p.startsWith('/groups')) {
    return { roles: ['Group.Read.All', 'GroupMember.Read.All', 'Directory.Read.All'], directory: true };
  }
  if (p.startsWith('/applications')) {
    return {
      roles: ['Application.Read.All', 'Application.ReadWrite.All', 'Directory.Read.All'],
      directory: true,
    };
  }
  return undefined;
}

/** A preHandler: refuses what the switches withdraw, before the route's own checks. */
export function createPermissionHook(state: SandboxState) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const kind = req.routeOptions.config?.kind;
    const path = req.url.split('?')[0] ?? '';
    const sw = permissionsOf(state);
    if (kind === 'google-api' && state.google) {
      const token = bearer(req);
      const access = token
        ? state.signer.verifyToken<{ sub: string; exp: number }>('ya29.sbx.', token)
        : undefined;
      if (!access || access.exp * 1000 < Date.now()) {
        return undefined; // the route answers 401
      }
      const api: GoogleApiName = path.startsWith('/calendar/') ? 'calendar' : 'admin';
      if (sw.google.disabledApis.includes(api)) {
        return sendAccessNotConfigured(reply, state, api);
      }
      const privilege = privilegeOf(path);
      if (privilege && sw.google.withdrawnPrivileges.includes(privilege)) {
        return sendGoogleError(reply, 403, 'forbidden', 'Not Authorized to access this resource/api');
      }
      return undefined;
    }
    if (kind === 'graph' && state.microsoft) {
      const token = bearer(req);
      const access = token ? state.signer.verifyJwt<{ roles?: string[]; exp: number }>(token) : undefined;
      const need = graphRolesFor(path);
      if (!access || !need || access.exp * 1000 < Date.now() || (access.roles ?? []).length === 0) {
        return undefined; // the route answers (401, or its own 403 for a token without roles)
      }
      if (need.roles.some((r) => access.roles?.includes(r))) {
        return undefined;
      }
      return need.directory
        ? sendGraphError(
            req,
            reply,
            403,
            'Authorization_RequestDenied',
            'Insufficient privileges to complete the operation.',
          )
        : sendGraphError(
            req,
            reply,
            403,
            'ErrorAccessDenied',
            'Access is denied. Check credentials and try again.',
          );
    }
    return undefined;
  };
}

const googleSwitch = z.strictObject({
  disabled_apis: z.array(z.enum(GOOGLE_APIS)).max(2).optional(),
  withdrawn_privileges: z.array(z.enum(GOOGLE_PRIVILEGES)).max(3).optional(),
});
const microsoftSwitch = z.strictObject({
  withdrawn_roles: z
    .array(z.string().regex(/^[A-Za-z.]{1,64}$/, 'must be a permission name'))
    .max(20)
    .optional(),
  secret_end_date_time: z.iso.datetime({ offset: true }).optional(),
});

/** `POST /_sandbox/{google,microsoft}/permissions`: set the switches (omitted keys stay). */
export function registerPermissionSwitches(app: FastifyInstance, state: SandboxState): void {
  const config = { kind: 'control' as const };
  app.post('/_sandbox/google/permissions', { config }, (req, reply) => {
    const body = parse(googleSwitch, req.body, reply);
    if (!state.google) {
      return reply.code(404).send({ error: 'provider google is not enabled in this sandbox' });
    }
    if (!body) {
      return reply;
    }
    const g = permissionsOf(state).google;
    if (body.disabled_apis) {
      g.disabledApis = [...new Set(body.disabled_apis)];
    }
    if (body.withdrawn_privileges) {
      g.withdrawnPrivileges = [...new Set(body.withdrawn_privileges)];
    }
    return {
      disabled_apis: g.disabledApis,
      withdrawn_privileges: g.withdrawnPrivileges,
      project_number: projectNumber(state),
    };
  });
  app.post('/_sandbox/microsoft/permissions', { config }, (req, reply) => {
    const body = parse(microsoftSwitch, req.body, reply);
    if (!state.microsoft) {
      return reply.code(404).send({ error: 'provider microsoft is not enabled in this sandbox' });
    }
    if (!body) {
      return reply;
    }
    const m = permissionsOf(state).microsoft;
    if (body.withdrawn_roles) {
      m.withdrawnRoles = [...new Set(body.withdrawn_roles)];
      // A permission change reaches new tokens only; tokens issued before keep their roles until they expire.
    }
    if (body.secret_end_date_time) {
      m.secretEndDateTime = new Date(body.secret_end_date_time).toISOString();
    }
    return { withdrawn_roles: m.withdrawnRoles, secret_end_date_time: m.secretEndDateTime };
  });
}

/** The sandbox app's registration as Graph `/applications` lists it (what `Application.Read.All` reads). */
export function applicationRecord(state: SandboxState): Record<string, unknown> | undefined {
  const m = state.microsoft;
  if (!m) {
    return undefined;
  }
  const sw = permissionsOf(state).microsoft;
  return {
    id: guidOf(state.seed, 0xa9),
    appId: m.clientId,
    displayName: m.appName,
    passwordCredentials: [
      {
        customKeyIdentifier: null,
        displayName: 'Enterprise Connect',
        endDateTime: sw.secretEndDateTime.replace('.000Z', 'Z'),
        hint: m.clientSecret.slice(0, 3),
        keyId: randomKeyId(state),
        secretText: null,
        startDateTime: sw.secretStartDateTime.replace(/\.\d{3}Z$/, 'Z'),
      },
    ],
  };
}

function randomKeyId(state: SandboxState): string {
  return state.microsoft ? guidOf(state.seed, 0x5e) : randomUUID();
}
