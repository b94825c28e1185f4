import type { Client } from '@microsoft/microsoft-graph-client';
import { type CallSpec, callProvider } from '../call.js';
import type { PermissionProbe, ProbeOptions, ProbeOutcome, ProbeResult, SecretExpiry } from '../probe.js';
import type { ResolvedRuntime } from '../runtime.js';
import { abortable } from '../signals.js';
import { isProviderError, type MicrosoftCredentials, ProviderError, type ProviderFailure } from '../types.js';
import { MicrosoftTokenSource, tokenRoles } from './auth.js';
import { type GraphCallKind, graphError, tokenError } from './errors.js';
import { createGraphClient } from './graph.js';

/** The Graph application permission each check needs (the first of each list is the one to grant). */
export const MICROSOFT_CHECK_PERMISSIONS = {
  directory_users: 'User.Read.All',
  rooms: 'Place.Read.All',
  buildings: 'Place.Read.All',
  groups: 'GroupMember.Read.All',
  calendar_user: 'Calendars.Read',
  calendar_room: 'Calendars.Read',
  credential_expiry: 'Application.Read.All',
} as const;

type GraphUser = { id?: string; mail?: string | null; userPrincipalName?: string; accountEnabled?: boolean };
type GraphList<T> = { value?: T[] };
type GraphApplication = {
  appId?: string;
  passwordCredentials?: { endDateTime?: string | null; hint?: string | null }[];
};

/**
 * The live permission check for an Entra app with application permissions: one app-only token (its
 * `roles` say which permissions were consented), then the smallest Graph read behind each permission,
 * and a user's and a room's calendar (an application access policy or RBAC for Applications scope
 * refuses a mailbox outside it with ErrorAccessDenied).
 */
export class MicrosoftPermissionProbe implements PermissionProbe {
  private readonly tokens: MicrosoftTokenSource;
  private readonly graph: Client;

  constructor(
    private readonly credentials: MicrosoftCredentials,
    private readonly rt: ResolvedRuntime,
  ) {
    this.tokens = new MicrosoftTokenSource({
      credentials,
      loginUrl: rt.urls.microsoftLoginUrl,
      timeoutMs: rt.timeoutMs,
      logger: rt.logger,
    });
    this.graph = createGraphClient(rt.urls.microsoftGraphUrl, () => this.tokens.token());
  }

  async close(): Promise<void> {
    this.tokens.clear();
  }

  async secretExpiry(signal?: AbortSignal): Promise<SecretExpiry> {
    const appId = this.credentials.clientId.replace(/'/g, '');
    const page = await this.get<GraphList<GraphApplication>>(
      { api: 'microsoft.directory', op: 'applications.list' },
      'directory',
      signal,
      (g) => g.api('/applications').filter(`appId eq '${appId}'`).select(['appId', 'passwordCredentials']),
    );
    const app = (page.value ?? []).find((a) => a.appId?.toLowerCase() === appId.toLowerCase());
    if (!app) {
      throw new ProviderError(
        'microsoft',
        'insufficient_permissions',
        'Graph listed no application with this client id',
      );
    }
    const secrets = [];
    for (const c of app.passwordCredentials ?? []) {
      const end = c.endDateTime ? new Date(c.endDateTime) : undefined;
      if (end && !Number.isNaN(end.getTime())) {
        secrets.push({ endDateTime: end, hint: typeof c.hint === 'string' ? c.hint : null });
      }
    }
    return { secrets };
  }

  async run(opts: ProbeOptions = {}): Promise<ProbeResult[]> {
    const signal = opts.signal;
    const results: ProbeResult[] = [];
    let roles: string[] | undefined;
    const token = await this.outcome(async (s) => {
      const value = await abortable(this.tokens.token(true), s).catch((err: unknown) => {
        throw tokenError(err);
      });
      roles = tokenRoles(value);
      if (roles?.length === 0) {
        throw new ProviderError(
          'microsoft',
          'consent_revoked',
          'The token carries no application permissions (roles): admin consent is missing or was withdrawn',
        );
      }
      return `an app-only token with the permissions ${roles?.join(', ') || '(unreadable token)'}`;
    }, signal);
    results.push({ check: 'token', target: 'https://graph.microsoft.com/.default', outcome: token });
    if (token.status === 'failed') {
      const detail = `not tried: the token check failed (${token.error.reason})`;
      for (const check of [
        'directory_users',
        'rooms',
        'buildings',
        'groups',
        'calendar_user',
        'calendar_room',
        'access_policy',
      ] as const) {
        results.push({ check, target: '', outcome: { status: 'skipped', detail } });
      }
      return results;
    }

    let sampleUser = opts.sampleMailbox;
    let sampleRoom: string | undefined;
    const list = async <T>(
      check: 'directory_users' | 'rooms' | 'buildings' | 'groups',
      op: string,
      path: (g: Client) => ReturnType<Client['api']>,
      describe: (items: T[]) => string,
    ) => {
      const outcome = await this.outcome(async (s) => {
        const page = await this.get<GraphList<T>>({ api: 'microsoft.directory', op }, 'directory', s, path);
        return describe(page.value ?? []);
      }, signal);
      results.push({ check, target: MICROSOFT_CHECK_PERMISSIONS[check], outcome });
    };
    await list<GraphUser>(
      'directory_users',
      'users.list',
      (g) => g.api('/users').select(['id', 'mail', 'userPrincipalName', 'accountEnabled']).top(20),
      (users) => {
        sampleUser ??= users.find((u) => u.accountEnabled && u.mail)?.mail ?? undefined;
        return `/users answered (${users.length} on a 20-user page)`;
      },
    );
    await list<{ emailAddress?: string }>(
      'rooms',
      'places.list',
      (g) => g.api('/places/microsoft.graph.room').top(1),
      (rooms) => {
        sampleRoom = rooms[0]?.emailAddress;
        return `/places/microsoft.graph.room answered (${sampleRoom ? `first room ${sampleRoom}` : 'no rooms'})`;
      },
    );
    await list<unknown>(
      'buildings',
      'roomlists.list',
      (g) => g.api('/places/microsoft.graph.roomlist'),
      (lists) => `/places/microsoft.graph.roomlist answered (${lists.length} room list(s))`,
    );
    await list<unknown>(
      'groups',
      'groups.list',
      (g) => g.api('/groups').select(['id']).top(1),
      (groups) => `/groups answered (${groups.length ? 'groups listed' : 'no groups'})`,
    );

    const user = await this.calendar('calendar_user', sampleUser, signal);
    const room = await this.calendar('calendar_room', sampleRoom, signal);
    results.push(user, room, accessPolicy(user, room));
    return results;
  }

  private async calendar(
    check: 'calendar_user' | 'calendar_room',
    email: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ProbeResult> {
    if (!email) {
      const what = check === 'calendar_user' ? 'no usable user was listed' : 'the tenant lists no room';
      return {
        check,
        target: MICROSOFT_CHECK_PERMISSIONS[check],
        outcome: { status: 'skipped', detail: `${what} to try` },
      };
    }
    const outcome = await this.outcome(async (s) => {
      await this.get({ api: 'microsoft.mailbox', op: 'calendar.get', mailbox: email }, 'mailbox', s, (g) =>
        g.api(`/users/${encodeURIComponent(email)}/calendar`).select(['id']),
      );
      return `/users/${email}/calendar answered`;
    }, signal);
    return { check, target: email, outcome };
  }

  private async outcome(
    fn: (signal: AbortSignal) => Promise<string>,
    signal: AbortSignal | undefined,
  ): Promise<ProbeOutcome> {
    try {
      return { status: 'ok', detail: await fn(signal ?? AbortSignal.timeout(this.rt.timeoutMs)) };
    } catch (err) {
      return { status: 'failed', error: isProviderError(err) ? err : graphError(err, 'directory') };
    }
  }

  private get<T>(
    spec: Omit<CallSpec, 'provider'>,
    kind: GraphCallKind,
    signal: AbortSignal | undefined,
    request: (g: Client) => ReturnType<Client['api']>,
  ): Promise<T> {
    return callProvider(
      this.rt,
      { provider: 'microsoft', ...spec },
      signal,
      async (s) => {
        await abortable(this.tokens.token(), s).catch((err: unknown) => {
          throw tokenError(err);
        });
        return (await request(this.graph).option('signal', s).get()) as T;
      },
      (err) => graphError(err, kind),
    );
  }
}

/** The application access policy, as the two calendar reads found it. */
function accessPolicy(user: ProbeResult, room: ProbeResult): ProbeResult {
  for (const r of [user, room]) {
    if (r.outcome.status === 'failed' && isPolicyRefusal(r.outcome.error)) {
      return { check: 'access_policy', target: r.target, outcome: r.outcome };
    }
  }
  const read = [user, room].filter((r) => r.outcome.status === 'ok').map((r) => r.target);
  if (read.length === 0) {
    return {
      check: 'access_policy',
      target: '',
      outcome: { status: 'skipped', detail: 'no mailbox calendar could be read (see the calendar checks)' },
    };
  }
  return {
    check: 'access_policy',
    target: read.join(', '),
    outcome: { status: 'ok', detail: `the application access policy, if any, allows ${read.join(' and ')}` },
  };
}

/**
 * A mailbox refused by the application access policy (or RBAC for Applications scope): Graph's 403
 * names the policy ("[RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings").
 */
export function isPolicyRefusal(err: ProviderFailure): boolean {
  return (
    err.provider === 'microsoft' && err.context.status === 403 && /AccessPolicy|RAOP|RBAC/i.test(err.message)
  );
}
