import {
  BUILDINGS,
  EQUIPMENT_WORDS,
  FIRST_NAMES,
  LAST_NAMES,
  LONG_FAMILY_NAME,
  LONG_MIDDLE_NAMES,
  type NamePair,
  ROOM_WORDS,
  SHARED_MAILBOXES,
  TIME_ZONES,
} from './names.js';
import { hexOf, mix, pick, unit } from './prng.js';

export type Provider = 'google' | 'microsoft';

/** A directory user (or a Microsoft shared mailbox), provider-neutral; the routes render it. */
export type DirUser = {
  /** Position in the directory's listing order (base index, or after the base for added users). */
  pos: number;
  /** Google: a 21-digit id; Microsoft: a GUID. */
  id: string;
  email: string;
  givenName: string;
  familyName: string;
  displayName: string;
  suspended: boolean;
  /** false: no Gmail/Calendar (Google `isMailboxSetup:false`) or no Exchange Online mailbox (Microsoft). */
  mailbox: boolean;
  /** Microsoft shared mailbox: a disabled account with a working mailbox. */
  shared: boolean;
  admin: boolean;
  /** Microsoft: mailbox outside the application access policy (403 ErrorAccessDenied). */
  accessDenied: boolean;
  createdAt: string;
  secondaryCalendars: number;
  timeZone: string;
  /** Microsoft, with the `shapes` option (org-shape.ts): a user principal name other than `email`. */
  upn?: string | undefined;
  /** Microsoft, with `shapes`: `SMTP:` primary and `smtp:` secondary addresses. */
  proxyAddresses?: string[] | undefined;
  /** Microsoft, with `shapes`: a guest (`userType: Guest`) from another organization. */
  guest?: boolean | undefined;
};

export type DirRoom = {
  pos: number;
  id: string;
  /** Google `resourceId`. */
  resourceId: string;
  email: string;
  name: string;
  capacity: number | null;
  building: string | null;
  floorNumber: number | null;
  floorLabel: string | null;
  category: 'CONFERENCE_ROOM' | 'OTHER';
  /** Google, with the `shapes` option: the building's id (absent: the id is the name). */
  buildingId?: string | undefined;
};

// One salt per generated attribute, so attributes are independent draws.
const S = {
  first: 1,
  last: 2,
  long: 3,
  suspended: 4,
  mailbox: 5,
  shared: 6,
  upper: 7,
  plus: 8,
  id: 9,
  created: 10,
  calendars: 11,
  tz: 12,
  denied: 13,
  roomWord: 20,
  capacity: 21,
  building: 22,
  floor: 23,
  category: 24,
  roomId: 25,
  hasCapacity: 26,
  hasBuilding: 27,
  hasFloor: 28,
  longPick: 29,
  plusTag: 30,
} as const;

const CAPACITIES = [2, 4, 6, 8, 10, 12, 16, 20, 40, 100] as const;
const PLUS_TAGS = ['ops', 'team', 'cal', 'eu'] as const;
const DAY_MS = 86_400_000;
const EPOCH_2015 = Date.UTC(2015, 0, 1);
/** Offset added to indexes inside generated GUIDs, so ids do not start at ...000000000000. */
const GUID_INDEX_BITS = 12;

/**
 * Indexes 1–9 always carry one awkward case each, so even a 10-user org shows them all; past that,
 * every case is a random share.
 */
const FORCED = {
  upper: 2,
  suspended: 3,
  long: 4,
  noMailbox: 5,
  duplicateOf1: 6,
  plus: 7,
  shared: 8,
  denied: 9,
} as const;

function chance(seed: number, i: number, salt: number, share: number, forcedAt: number): boolean {
  return i === forcedAt || (i > 9 && unit(mix(seed, i, salt)) < share);
}

export type GenParams = { seed: number; provider: Provider; domain: string; rooms: number };

function capitalise(slug: string): string {
  return slug.charAt(0).toUpperCase() + slug.slice(1);
}

function guid(seed: number, index: number, salt: number, kind: '8' | '9'): string {
  const h = hexOf(seed, index, salt, 20);
  const tail = (index + (mix(seed, 0, salt) % 0xfffff) * 0x100000)
    .toString(16)
    .padStart(GUID_INDEX_BITS, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(12, 15)}-${kind}${h.slice(15, 18)}-${tail}`;
}

/** The index encoded in a generated GUID (`kind` 8 = user, 9 = room), or undefined. */
export function indexFromGuid(seed: number, salt: number, id: string, kind: '8' | '9'): number | undefined {
  const m = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-([89ab])[0-9a-f]{3}-([0-9a-f]{12})$/.exec(id);
  if (!m || m[1] !== kind) {
    return undefined;
  }
  const n = Number.parseInt(m[2] as string, 16) - (mix(seed, 0, salt) % 0xfffff) * 0x100000;
  return n >= 0 ? n : undefined;
}

/** The index in a generated user email's local part (`first.last123+tag@…` → 123). */
export function indexFromLocalPart(local: string): number | undefined {
  const m = /(\d+)$/.exec(local.split('+')[0] ?? '');
  return m ? Number(m[1]) : undefined;
}

export function generateUser(p: GenParams, i: number): DirUser {
  const { seed } = p;
  const ms = p.provider === 'microsoft';
  const isAdmin = i === 0;
  const shared = ms && chance(seed, i, S.shared, 0.03, FORCED.shared);
  let given: NamePair;
  let family: NamePair;
  let displayName: string;
  let local: string;
  if (shared) {
    const box = pick(SHARED_MAILBOXES, mix(seed, i, S.first));
    given = box;
    family = ['', ''];
    displayName = box[0];
    local = `${box[1]}${i}`;
  } else {
    const nameIndex = i === FORCED.duplicateOf1 ? 1 : i;
    given = pick(FIRST_NAMES, mix(seed, nameIndex, S.first));
    family = pick(LAST_NAMES, mix(seed, nameIndex, S.last));
    if (chance(seed, i, S.long, 0.01, FORCED.long)) {
      const h = mix(seed, i, S.longPick);
      const middles = [0, 1, 2, 3, 4].map((k) => LONG_MIDDLE_NAMES[(h + k * 7) % LONG_MIDDLE_NAMES.length]);
      given = [`${given[0]} ${middles.join(' ')}`, given[1]];
      family = [`${family[0]} ${LONG_FAMILY_NAME}`, family[1]];
    }
    displayName = `${given[0]} ${family[0]}`;
    local = `${given[1]}.${family[1]}${i}`;
    if (chance(seed, i, S.upper, 0.05, FORCED.upper)) {
      local = `${capitalise(given[1])}.${capitalise(family[1])}${i}`;
    }
  }
  if (chance(seed, i, S.plus, 0.04, FORCED.plus)) {
    local = `${local}+${pick(PLUS_TAGS, mix(seed, i, S.plusTag))}`;
  }
  const id = ms
    ? guid(seed, i, S.id, '8')
    : `1${String(mix(seed, i, S.id) % 1e8).padStart(8, '0')}${String(i).padStart(12, '0')}`;
  return {
    pos: i,
    id,
    email: `${local}@${p.domain}`,
    givenName: given[0],
    familyName: family[0],
    displayName,
    suspended: !shared && chance(seed, i, S.suspended, 0.05, FORCED.suspended),
    mailbox: shared || !chance(seed, i, S.mailbox, 0.04, FORCED.noMailbox),
    shared,
    admin: isAdmin,
    accessDenied: ms && chance(seed, i, S.denied, 0.01, FORCED.denied),
    createdAt: new Date(EPOCH_2015 + (mix(seed, i, S.created) % 3000) * DAY_MS).toISOString(),
    secondaryCalendars: mix(seed, i, S.calendars) % 4 === 0 ? 1 + (mix(seed, i, S.calendars + 100) % 3) : 0,
    timeZone: pick(TIME_ZONES, mix(seed, i, S.tz)),
  };
}

/** How many buildings (and Microsoft room lists) an org of `rooms` rooms has. */
export function buildingCount(rooms: number): number {
  return Math.max(1, Math.min(BUILDINGS.length, Math.ceil(rooms / 25)));
}

function floorLabel(n: number): string {
  return n < 0 ? `B${-n}` : n === 0 ? 'G' : String(n);
}

export function generateRoom(p: GenParams, i: number): DirRoom {
  const { seed } = p;
  const equipment = i === 3 || (i > 3 && unit(mix(seed, i, S.category)) < 0.12);
  const hasBuilding = i !== 2 && (i < 4 || unit(mix(seed, i, S.hasBuilding)) >= 0.15);
  const building = hasBuilding
    ? pick(BUILDINGS.slice(0, buildingCount(p.rooms)), mix(seed, i, S.building))
    : null;
  const hasFloor = building !== null && unit(mix(seed, i, S.hasFloor)) >= 0.1;
  const floorNumber = hasFloor ? (mix(seed, i, S.floor) % 12) - 1 : null;
  const letter = String.fromCharCode(65 + (i % 6));
  const name = equipment
    ? `${pick(EQUIPMENT_WORDS, mix(seed, i, S.roomWord))} ${i}`
    : `${pick(ROOM_WORDS, mix(seed, i, S.roomWord))} ${floorNumber ?? ''}${letter}${i}`;
  const hasCapacity = !equipment && i !== 1 && (i < 4 || unit(mix(seed, i, S.hasCapacity)) >= 0.15);
  const email =
    p.provider === 'google'
      ? `c_${hexOf(seed, i, S.roomId, 12)}${String(i).padStart(8, '0')}@resource.calendar.google.com`
      : `rm.${building?.[1] ?? 'floating'}.${i}@${p.domain}`;
  return {
    pos: i,
    id: p.provider === 'microsoft' ? guid(seed, i, S.roomId, '9') : `${mix(seed, i, S.roomId)}${i}`,
    resourceId: `${mix(seed, i, S.roomId)}${i}`,
    email,
    name,
    capacity: hasCapacity ? pick(CAPACITIES, mix(seed, i, S.capacity)) : null,
    building: building?.[0] ?? null,
    floorNumber,
    floorLabel: floorNumber === null ? null : floorLabel(floorNumber),
    category: equipment ? 'OTHER' : 'CONFERENCE_ROOM',
  };
}

/** The base index a Google room email encodes (`c_<12 hex><8 digits>@resource.calendar.google.com`). */
export function indexFromGoogleRoomEmail(email: string): number | undefined {
  const m = /^c_[0-9a-f]{12}(\d{8})@resource\.calendar\.google\.com$/.exec(email);
  return m ? Number(m[1]) : undefined;
}

export const ID_SALTS = { user: S.id, room: S.roomId } as const;
