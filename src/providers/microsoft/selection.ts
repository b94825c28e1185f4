import type { Client } from '@microsoft/microsoft-graph-client';
import type { CallSpec } from '../call.js';
import {
  type DirectoryPage,
  type DirectoryUser,
  type ListOptions,
  type OrgUnitFilter,
  ProviderError,
  type SelectionProvider,
  type SelectionTarget,
} from '../types.js';
import {
  GRAPH_USERS_MAX_PAGE,
  type GraphPage,
  type GraphUser,
  toDirectoryUser,
  USER_SELECT,
} from './directory.js';
import type { GraphCallKind } from './errors.js';

/** The provider's own Graph call (its token, limiter, retries of a refused token, error mapping). */
export type GraphCall = <T>(
  spec: { api: CallSpec['api']; op: string; kind: GraphCallKind; mailbox?: string },
  signal: AbortSignal | undefined,
  request: (g: Client) => { option(k: string, v: unknown): { get(): Promise<unknown> } },
) => Promise<T>;

/**
 * The Microsoft half of a selection: `/groups/{id}/transitiveMembers/microsoft.graph.user` (members
 * of nested groups included, users only, paged by `@odata.nextLink`), and a domain as `/users` pages
 * kept to addresses in it (Graph's `endswith` filter needs advanced queries, and costs the same pages).
 * Microsoft 365 has no org units.
 */
export class MicrosoftSelection implements SelectionProvider {
  constructor(
    private readonly deps: {
      call: GraphCall;
      link: (cursor: string) => string;
      cursor: (nextLink: string | undefined) => string | null;
      listUsersPage: (cursor: string | null, opts?: ListOptions) => Promise<DirectoryPage<DirectoryUser>>;
    },
  ) {}

  async listOrgUnitUsersPage(_unit: OrgUnitFilter): Promise<DirectoryPage<DirectoryUser>> {
    throw new ProviderError('microsoft', 'insufficient_permissions', 'Microsoft 365 has no org units');
  }

  async listDomainUsersPage(
    domain: string,
    cursor: string | null,
    opts: ListOptions = {},
  ): Promise<DirectoryPage<DirectoryUser>> {
    const page = await this.deps.listUsersPage(cursor, opts);
    const suffix = `@${domain.toLowerCase()}`;
    return {
      items: page.items.filter((u) => u.email.toLowerCase().endsWith(suffix)),
      nextCursor: page.nextCursor,
    };
  }

  async listGroupMembersPage(
    group: string,
    cursor: string | null,
    opts: ListOptions = {},
  ): Promise<DirectoryPage<DirectoryUser>> {
    const top = Math.min(
      GRAPH_USERS_MAX_PAGE,
      Math.max(1, Math.floor(opts.pageSize ?? GRAPH_USERS_MAX_PAGE)),
    );
    const page = await this.deps.call<GraphPage<GraphUser>>(
      { api: 'microsoft.directory', op: 'groups.transitiveMembers', kind: 'directory' },
      opts.signal,
      (g) =>
        cursor
          ? g.api(this.deps.link(cursor))
          : g
              .api(`/groups/${encodeURIComponent(group)}/transitiveMembers/microsoft.graph.user`)
              .select(USER_SELECT)
              .top(top),
    );
    const items = (page.value ?? []).map(toDirectoryUser).filter((u) => u !== undefined);
    return { items, nextCursor: this.deps.cursor(page['@odata.nextLink']) };
  }

  async findTarget(
    target: SelectionTarget,
    signal?: AbortSignal,
  ): Promise<{ id: string; name: string } | null> {
    if (target.kind === 'org_unit') {
      return null;
    }
    try {
      const g = await this.deps.call<{ id?: string; displayName?: string | null }>(
        { api: 'microsoft.directory', op: 'groups.get', kind: 'directory' },
        signal,
        (c) => c.api(`/groups/${encodeURIComponent(target.key)}`).select(['id', 'displayName']),
      );
      return { id: g.id ?? target.key, name: g.displayName || target.key };
    } catch (err) {
      if (err instanceof ProviderError && (err.context.status === 404 || err.context.status === 400)) {
        return null;
      }
      throw err;
    }
  }
}
