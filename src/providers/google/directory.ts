// Deep imports: the `googleapis` root loads every Google API (≈1.4 s per process); these two modules
// are all we use. googleapis has no `exports` map, so the paths are public.
import type { admin_directory_v1 } from 'googleapis/build/src/apis/admin/directory_v1.js';
import { storableText, storableTextOrNull } from '../../lib/text.js';
import type { DirectoryRoom, DirectoryUser, Mailbox } from '../types.js';

/** Google's largest Directory page (users.list and resources.calendars.list). */
export const GOOGLE_MAX_PAGE = 500;

/** Only what we map: smaller pages over the wire (partial response). */
export const USER_FIELDS =
  'id,primaryEmail,name(fullName,givenName,familyName),suspended,archived,isMailboxSetup';
export const USERS_PAGE_FIELDS = `nextPageToken,users(${USER_FIELDS})`;
export const ROOMS_PAGE_FIELDS =
  'nextPageToken,items(resourceId,resourceName,generatedResourceName,resourceEmail,capacity,buildingId,floorName,resourceType,resourceCategory)';

/** Room emails Google generates for calendar resources. */
export function isGoogleResourceEmail(email: string): boolean {
  return email.toLowerCase().endsWith('@resource.calendar.google.com');
}

// Every string from Google is made storable (lib/text.ts): one NUL in one name must not fail the
// batch of a run or a directory sync that stores it.

export function toDirectoryUser(u: admin_directory_v1.Schema$User): DirectoryUser | undefined {
  const id = storableText(u.id ?? '');
  const email = storableText(u.primaryEmail ?? '');
  if (!id || !email) {
    return undefined;
  }
  const given = [u.name?.givenName, u.name?.familyName].filter(Boolean).join(' ');
  return {
    providerId: id,
    email,
    name: storableText(u.name?.fullName || given) || email,
    kind: 'user',
    // An archived user cannot sign in or use Calendar either.
    suspended: u.suspended === true || u.archived === true,
    // `isMailboxSetup` is absent for users without a Gmail licence in some tenants: only an explicit false counts.
    hasMailbox: u.isMailboxSetup !== false,
  };
}

export function toDirectoryRoom(r: admin_directory_v1.Schema$CalendarResource): DirectoryRoom | undefined {
  const email = storableText(r.resourceEmail ?? '');
  if (!email) {
    return undefined;
  }
  return {
    providerId: storableText(r.resourceId ?? '') || email,
    email,
    name: storableText(r.resourceName ?? r.generatedResourceName ?? '') || email,
    capacity: typeof r.capacity === 'number' ? r.capacity : null,
    building: storableTextOrNull(r.buildingId),
    floor: storableTextOrNull(r.floorName),
    resourceType: storableTextOrNull(r.resourceType ?? r.resourceCategory),
    // CONFERENCE_ROOM (and the legacy CATEGORY_UNKNOWN) are rooms; OTHER is equipment.
    resourceKind: r.resourceCategory === 'OTHER' ? 'equipment' : 'room',
  };
}

// Object.assign rather than a leading spread (one per mailbox verified): see accountViews
// (services/accounts.ts).
export function userMailbox(u: DirectoryUser): Mailbox {
  return Object.assign({}, u, { kind: 'user' as const });
}

export function roomMailbox(r: DirectoryRoom): Mailbox {
  return Object.assign({}, r, {
    kind: 'room' as const,
    suspended: false as const,
    hasMailbox: true as const,
  });
}

export function clampPageSize(size: number | undefined, fallback: number, max: number): number {
  if (size === undefined || !Number.isFinite(size)) {
    return fallback;
  }
  return Math.min(max, Math.max(1, Math.floor(size)));
}
