import { storableText, storableTextOrNull } from '../../lib/text.js';
import type { DirectoryRoom, DirectoryUser, MailboxCalendar } from '../types.js';

/** Graph's largest `/users` page. */
export const GRAPH_USERS_MAX_PAGE = 999;
/** `/places` pages: Graph's documented default (larger `$top` values are not documented for places). */
export const GRAPH_ROOMS_PAGE = 100;
export const GRAPH_ROOMS_MAX_PAGE = 999;

export const USER_SELECT = [
  'id',
  'displayName',
  'givenName',
  'surname',
  'mail',
  'userPrincipalName',
  'accountEnabled',
  'userType',
];

export type GraphUser = {
  id?: string;
  displayName?: string | null;
  givenName?: string | null;
  surname?: string | null;
  mail?: string | null;
  userPrincipalName?: string | null;
  accountEnabled?: boolean | null;
  /** `Member` or `Guest`. */
  userType?: string | null;
};

export type GraphRoom = {
  id?: string;
  emailAddress?: string | null;
  displayName?: string | null;
  capacity?: number | string | null;
  building?: string | null;
  floorLabel?: string | null;
  floorNumber?: number | null;
};

export type GraphCalendar = {
  id?: string;
  name?: string | null;
  canEdit?: boolean | null;
  isDefaultCalendar?: boolean | null;
};

export type GraphPage<T> = { value?: T[]; '@odata.nextLink'?: string };

// Every string from Graph is made storable (lib/text.ts): one NUL in one name must not fail the
// batch of a run or a directory sync that stores it.

export function graphUserEmail(u: GraphUser): string | undefined {
  return storableText(u.mail || u.userPrincipalName || '') || undefined;
}

/**
 * Tells apart what `/users` lists. Enabled accounts are users. Disabled accounts are one of: a room
 * mailbox (its address is a room in `/places`: skipped by the caller, listed as a room), a shared
 * mailbox (no given name or surname, has a mailbox) or a blocked (suspended) user. Graph has no field
 * that says "shared mailbox" without one extra call per account (mailboxSettings.userPurpose), so the
 * name test is a heuristic; docs/providers.md says so.
 */
export function toDirectoryUser(u: GraphUser): DirectoryUser | undefined {
  const email = graphUserEmail(u);
  const providerId = storableText(u.id ?? '');
  if (!providerId || !email) {
    return undefined;
  }
  const name = storableText(u.displayName || [u.givenName, u.surname].filter(Boolean).join(' ')) || email;
  const hasMailbox = Boolean(u.mail);
  if (u.userType === 'Guest') {
    return {
      providerId,
      email,
      name,
      kind: 'user',
      suspended: u.accountEnabled === false,
      hasMailbox,
      guest: true,
    };
  }
  if (u.accountEnabled !== false) {
    return { providerId, email, name, kind: 'user', suspended: false, hasMailbox };
  }
  if (!u.givenName && !u.surname && hasMailbox) {
    return { providerId, email, name, kind: 'shared_mailbox', suspended: false, hasMailbox: true };
  }
  return { providerId, email, name, kind: 'user', suspended: true, hasMailbox };
}

/** Whether a `/users` entry might be a room mailbox (and the room index must be consulted). */
export function mayBeRoom(u: GraphUser): boolean {
  return u.accountEnabled === false && !u.givenName && !u.surname;
}

function toCapacity(c: number | string | null | undefined): number | null {
  const n = typeof c === 'string' ? Number.parseInt(c, 10) : c;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}

export function toDirectoryRoom(r: GraphRoom): DirectoryRoom | undefined {
  const email = storableText(r.emailAddress ?? '');
  if (!email) {
    return undefined;
  }
  return {
    providerId: storableText(r.id ?? '') || email,
    email,
    name: storableText(r.displayName ?? '') || email,
    // Graph documents capacity as Int32, but older payloads carry it as a string.
    capacity: toCapacity(r.capacity),
    building: storableTextOrNull(r.building),
    floor:
      storableTextOrNull(r.floorLabel) ?? (typeof r.floorNumber === 'number' ? String(r.floorNumber) : null),
    resourceType: 'room',
    resourceKind: 'room',
  };
}

export function toMailboxCalendar(c: GraphCalendar): MailboxCalendar | undefined {
  const id = storableText(c.id ?? '');
  if (!id) {
    return undefined;
  }
  return {
    providerCalendarId: id,
    name: storableText(c.name ?? '') || 'Calendar',
    readonly: c.canEdit === false,
    primary: c.isDefaultCalendar === true,
  };
}

/** A room cursor: a Graph nextLink, or `skip:N` when `/places` gave a full page but no nextLink. */
export function roomsCursor(
  nextLink: string | undefined,
  skip: number,
  top: number,
  got: number,
): string | null {
  if (nextLink) {
    return nextLink;
  }
  return got >= top ? `skip:${skip + got}` : null;
}
