/**
 * Listing the users a selection names (lib/selection.ts), for a provisioning run's `users` pages
 * and a directory sync's. The selection is a row of sources listed one after the other — each org
 * unit (Google users.list by orgUnitPath), each group (members, nested groups included), each
 * domain, then, when it names emails, the whole directory kept to those emails — and, for a run,
 * last, the named emails no source listed (skipped as `user_not_found`). One page of one source per
 * call; the cursor says which source and where in it, so a restart resumes where it stopped.
 * A user named twice (an org unit and a group) is listed twice: run items and directory entries are
 * unique per email, so it counts once.
 */
import { emailsWithoutItems, selectedEmails } from '../db/queries/selection-emails.js';
import type { ProvisioningRun } from '../db/schema/provisioning-runs.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import { newId } from '../lib/ids.js';
import type { StoredSelection } from '../lib/selection.js';
import {
  type DirectoryPage,
  type DirectoryProvider,
  type DirectoryUser,
  type ListOptions,
  ProviderError,
} from '../providers/types.js';
import type { AppContext } from './context.js';

type Source =
  | { t: 'org_unit'; path: string; includeChildren: boolean }
  | { t: 'group'; key: string }
  | { t: 'domain'; domain: string }
  | { t: 'emails' }
  | { t: 'not_found' };

/** Unknown emails handled per page of the last source. */
const NOT_FOUND_PAGE = 1000;

export const NOT_FOUND_DESCRIPTION =
  'No Directory user has this email (the selection named it; rooms are onboarded with include "rooms")';

export type SelectedPage = DirectoryPage<DirectoryUser> & {
  /** Emails the selection named that no source listed (a run's last source only). */
  notFound: { email: string; emailLower: string }[];
};

function sourcesOf(sel: StoredSelection, forRun: boolean): Source[] {
  return [
    ...sel.org_units.map((u) => ({
      t: 'org_unit' as const,
      path: u.path,
      includeChildren: u.include_children,
    })),
    ...sel.groups.map((key) => ({ t: 'group' as const, key })),
    ...sel.domains.map((domain) => ({ t: 'domain' as const, domain })),
    ...(sel.emails > 0 ? [{ t: 'emails' as const }] : []),
    ...(sel.emails > 0 && forRun ? [{ t: 'not_found' as const }] : []),
  ];
}

type Position = { s: number; t: string | null };

function decode(cursor: string | null): Position {
  if (cursor === null) {
    return { s: 0, t: null };
  }
  try {
    const p = JSON.parse(cursor) as Partial<Position>;
    if (Number.isInteger(p.s) && (p.t === null || typeof p.t === 'string')) {
      return { s: p.s as number, t: p.t };
    }
  } catch {
    // Not ours: below.
  }
  // A cursor stored before the selection existed (or damaged): start the listing over; items and
  // entries are unique per email, so what was listed already is not counted twice.
  return { s: 0, t: null };
}

/** One page of the selection's users from `cursor` (null: the start). */
export async function listSelectedUsersPage(
  app: Pick<AppContext, 'db'>,
  provider: DirectoryProvider,
  owner: { ownerId: string; selection: StoredSelection; forRun: boolean },
  cursor: string | null,
  opts: ListOptions,
): Promise<SelectedPage> {
  const sources = sourcesOf(owner.selection, owner.forRun);
  const at = decode(cursor);
  const source = sources[at.s];
  if (!source) {
    return { items: [], notFound: [], nextCursor: null };
  }
  const next = (token: string | null): string | null =>
    token !== null
      ? JSON.stringify({ s: at.s, t: token })
      : at.s + 1 < sources.length
        ? JSON.stringify({ s: at.s + 1, t: null })
        : null;
  if (source.t === 'not_found') {
    const rows = await emailsWithoutItems(app.db, owner.ownerId, at.t ?? '', NOT_FOUND_PAGE);
    const last = rows[rows.length - 1];
    return {
      items: [],
      notFound: rows,
      nextCursor: next(rows.length === NOT_FOUND_PAGE && last ? last.emailLower : null),
    };
  }
  if (source.t === 'emails') {
    const page = await provider.listUsersPage(at.t, opts);
    const named = await selectedEmails(
      app.db,
      owner.ownerId,
      page.items.map((u) => u.email.toLowerCase()),
    );
    return {
      items: page.items.filter((u) => named.has(u.email.toLowerCase())),
      notFound: [],
      nextCursor: next(page.nextCursor),
    };
  }
  const lists = provider.selection;
  if (!lists) {
    throw new ProviderError(
      provider.provider,
      'insufficient_permissions',
      'This directory cannot be listed by selection',
    );
  }
  const page =
    source.t === 'org_unit'
      ? await lists.listOrgUnitUsersPage(
          { path: source.path, includeChildren: source.includeChildren },
          at.t,
          opts,
        )
      : source.t === 'group'
        ? await lists.listGroupMembersPage(source.key, at.t, opts)
        : await lists.listDomainUsersPage(source.domain, at.t, opts);
  return { items: page.items, notFound: [], nextCursor: next(page.nextCursor) };
}

/** A run's `users` page: its selection's, or the whole directory's when it has none. */
export async function listRunUsersPage(
  app: Pick<AppContext, 'db'>,
  run: Pick<ProvisioningRun, 'id' | 'selection'>,
  provider: DirectoryProvider,
  cursor: string | null,
  opts: ListOptions,
): Promise<SelectedPage> {
  if (!run.selection) {
    return { ...(await provider.listUsersPage(cursor, opts)), notFound: [] };
  }
  return listSelectedUsersPage(
    app,
    provider,
    { ownerId: run.id, selection: run.selection, forRun: true },
    cursor,
    opts,
  );
}

/**
 * A directory sync's `users` page: the Service Account's selection's, or the whole directory's. A
 * user who left the selection is not listed, so the sync's end treats it like a user removed from
 * the directory (Profiles disconnected, Account revoked after the grace period).
 */
export async function listSyncUsersPage(
  app: Pick<AppContext, 'db'>,
  sa: Pick<ServiceAccount, 'id' | 'selection'>,
  provider: DirectoryProvider,
  cursor: string | null,
  opts: ListOptions,
): Promise<DirectoryPage<DirectoryUser>> {
  if (!sa.selection) {
    return provider.listUsersPage(cursor, opts);
  }
  const page = await listSelectedUsersPage(
    app,
    provider,
    { ownerId: sa.id, selection: sa.selection, forRun: false },
    cursor,
    opts,
  );
  return { items: page.items, nextCursor: page.nextCursor };
}

/** Run items for the emails a run's selection named that the directory does not have. */
export function notFoundItems(run: Pick<ProvisioningRun, 'id'>, page: object) {
  const rows = 'notFound' in page ? (page as SelectedPage).notFound : [];
  return rows.map((r) => ({
    id: newId('runItem'),
    runId: run.id,
    kind: 'user' as const,
    email: r.email,
    emailLower: r.emailLower,
    directoryEntryId: null,
    status: 'skipped' as const,
    errorKey: 'user_not_found',
    errorDescription: NOT_FOUND_DESCRIPTION,
  }));
}
