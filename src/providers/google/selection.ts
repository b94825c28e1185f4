import { OAuth2Client } from 'google-auth-library';
import type { admin_directory_v1 } from 'googleapis/build/src/apis/admin/directory_v1.js';
import { orgUnitQuery } from '../../lib/selection.js';
import { callProvider } from '../call.js';
import type { ResolvedRuntime } from '../runtime.js';
import {
  type DirectoryPage,
  type DirectoryUser,
  type GoogleCredentials,
  type ListOptions,
  type Mailbox,
  type OrgUnitFilter,
  ProviderError,
  type SelectionProvider,
  type SelectionTarget,
} from '../types.js';
import { grantScopedToken } from './auth.js';
import { clampPageSize, GOOGLE_MAX_PAGE, toDirectoryUser, USER_FIELDS } from './directory.js';
import { type GoogleCallKind, googleError } from './errors.js';

/** What googleapis accepts as `auth`. */
type ApiAuth = NonNullable<admin_directory_v1.Params$Resource$Users$List['auth']>;
type CallOptions = { signal: AbortSignal; retry: false };
/** The provider's own Directory call as the admin (its token, limiter and error mapping). */
export type AdminCall = <T>(
  op: string,
  kind: GoogleCallKind,
  signal: AbortSignal | undefined,
  fn: (auth: ApiAuth, o: CallOptions) => Promise<T>,
) => Promise<T>;

const SCOPE = 'https://www.googleapis.com/auth/';
/**
 * Reading groups needs one more delegated scope than the rest of the product. It is asked for in a
 * token of its own, only when a selection names groups, so a delegation without it keeps working
 * for everything else (and `ec doctor` reports it).
 */
export const GOOGLE_GROUP_SCOPE = `${SCOPE}admin.directory.group.readonly`;
/** members.list's largest page. */
const MEMBERS_PAGE = 200;
/** users.get calls in flight per members page (each also waits on the shared Directory quota). */
const MEMBER_LOOKUPS = 8;

/**
 * The Google half of a selection: users.list narrowed by `query=orgUnitPath='…'` (the unit and
 * every unit below it, as Google documents; without children the page is filtered to the unit
 * itself) or by `domain=`; members.list with `includeDerivedMembership=true` (nested groups at any
 * depth), each member user read with users.get (members.list has no names or states).
 */
export class GoogleSelection implements SelectionProvider {
  private groupToken: { value: string; expiresAt: number } | undefined;

  constructor(
    private readonly deps: {
      credentials: GoogleCredentials;
      rt: ResolvedRuntime;
      admin: admin_directory_v1.Admin;
      customer: string;
      asAdmin: AdminCall;
      findMailbox: (email: string, signal?: AbortSignal) => Promise<Mailbox>;
    },
  ) {}

  async listOrgUnitUsersPage(
    unit: OrgUnitFilter,
    cursor: string | null,
    opts: ListOptions = {},
  ): Promise<DirectoryPage<DirectoryUser>> {
    const page = await this.usersPage({ query: orgUnitQuery(unit.path) }, cursor, opts);
    const wanted = unit.path.toLowerCase();
    const users = unit.includeChildren
      ? page.users
      : page.users.filter((u) => (u.orgUnitPath ?? '/').toLowerCase() === wanted);
    return { items: toUsers(users), nextCursor: page.nextCursor };
  }

  async listDomainUsersPage(
    domain: string,
    cursor: string | null,
    opts: ListOptions = {},
  ): Promise<DirectoryPage<DirectoryUser>> {
    const page = await this.usersPage({ domain }, cursor, opts);
    return { items: toUsers(page.users), nextCursor: page.nextCursor };
  }

  async listGroupMembersPage(
    group: string,
    cursor: string | null,
    opts: ListOptions = {},
  ): Promise<DirectoryPage<DirectoryUser>> {
    const res = await this.groupCall('members.list', opts.signal, (auth, o) =>
      this.deps.admin.members.list(
        {
          auth,
          groupKey: group,
          includeDerivedMembership: true,
          maxResults: MEMBERS_PAGE,
          ...(cursor ? { pageToken: cursor } : {}),
          fields: 'nextPageToken,members(id,email,type,status)',
        },
        o,
      ),
    );
    const emails = (res.data.members ?? [])
      .filter((m) => m.type === 'USER' && typeof m.email === 'string' && m.email !== '')
      .map((m) => m.email as string);
    const users: DirectoryUser[] = [];
    for (let i = 0; i < emails.length; i += MEMBER_LOOKUPS) {
      const found = await Promise.all(
        emails.slice(i, i + MEMBER_LOOKUPS).map((email) => this.memberUser(email, opts.signal)),
      );
      users.push(...found.filter((u) => u !== undefined));
    }
    return { items: users, nextCursor: res.data.nextPageToken || null };
  }

  async findTarget(
    target: SelectionTarget,
    signal?: AbortSignal,
  ): Promise<{ id: string; name: string } | null> {
    if (target.kind === 'org_unit') {
      if (target.path === '/') {
        return { id: '/', name: '/' };
      }
      try {
        await this.usersPage({ query: orgUnitQuery(target.path) }, null, {
          pageSize: 1,
          ...(signal ? { signal } : {}),
        });
        return { id: target.path, name: target.path };
      } catch (err) {
        // An unknown unit: 400 "Invalid Input: INVALID_OU_ID".
        if (err instanceof ProviderError && err.context.status === 400) {
          return null;
        }
        throw err;
      }
    }
    try {
      const res = await this.groupCall('groups.get', signal, (auth, o) =>
        this.deps.admin.groups.get({ auth, groupKey: target.key, fields: 'id,email,name' }, o),
      );
      return { id: res.data.id ?? target.key, name: res.data.name || res.data.email || target.key };
    } catch (err) {
      if (err instanceof ProviderError && (err.context.status === 404 || err.context.status === 400)) {
        return null;
      }
      throw err;
    }
  }

  private async usersPage(
    filter: { query: string } | { domain: string },
    cursor: string | null,
    opts: ListOptions,
  ): Promise<{ users: admin_directory_v1.Schema$User[]; nextCursor: string | null }> {
    const maxResults = clampPageSize(opts.pageSize, GOOGLE_MAX_PAGE, GOOGLE_MAX_PAGE);
    const res = await this.deps.asAdmin('users.list', 'directory.list', opts.signal, (auth, o) =>
      this.deps.admin.users.list(
        {
          auth,
          ...('domain' in filter
            ? { domain: filter.domain }
            : { customer: this.deps.customer, query: filter.query }),
          maxResults,
          ...(cursor ? { pageToken: cursor } : {}),
          projection: 'basic',
          fields: `nextPageToken,users(${USER_FIELDS},orgUnitPath)`,
        },
        o,
      ),
    );
    return { users: res.data.users ?? [], nextCursor: res.data.nextPageToken || null };
  }

  /** A member as a Directory user; undefined when the directory has no such user (an outside member). */
  private async memberUser(
    email: string,
    signal: AbortSignal | undefined,
  ): Promise<DirectoryUser | undefined> {
    try {
      const m = await this.deps.findMailbox(email, signal);
      return m.kind === 'room' ? undefined : { ...m, kind: m.kind };
    } catch (err) {
      if (err instanceof ProviderError && err.reason === 'user_not_found') {
        return undefined;
      }
      throw err;
    }
  }

  private groupCall<T>(
    op: string,
    signal: AbortSignal | undefined,
    fn: (auth: ApiAuth, o: CallOptions) => Promise<T>,
  ): Promise<T> {
    const { rt } = this.deps;
    return callProvider(
      rt,
      { provider: 'google', api: 'google.directory', op },
      signal,
      async (s) => {
        const auth = new OAuth2Client();
        auth.setCredentials({ access_token: await this.token(s) });
        return fn(auth, { signal: s, retry: false });
      },
      (err) => googleError(err, 'directory.list'),
    );
  }

  /** The admin's token for the group scope, kept until shortly before it expires. */
  private async token(signal: AbortSignal): Promise<string> {
    if (this.groupToken && this.groupToken.expiresAt > Date.now() + 60_000) {
      return this.groupToken.value;
    }
    const { credentials, rt } = this.deps;
    const granted = await grantScopedToken(
      {
        key: credentials.key,
        tokenUrl: rt.urls.googleTokenUrl,
        subject: credentials.adminEmail,
        scope: GOOGLE_GROUP_SCOPE,
      },
      signal,
    );
    this.groupToken = { value: granted.token, expiresAt: granted.expiresAt };
    return granted.token;
  }
}

function toUsers(users: admin_directory_v1.Schema$User[]): DirectoryUser[] {
  return users.map(toDirectoryUser).filter((u) => u !== undefined);
}
