import { LazyCollection } from './collection.js';
import { localPartIn, spreadOverDomains } from './domains.js';
import {
  buildingCount,
  type DirRoom,
  type DirUser,
  type GenParams,
  generateRoom,
  generateUser,
  ID_SALTS,
  indexFromGoogleRoomEmail,
  indexFromGuid,
  indexFromLocalPart,
  type Provider,
} from './generate.js';
import { groupsOf, type SandboxGroup } from './groups.js';
import { BUILDINGS } from './names.js';
import { guestDomain, shapeRoom, shapeUser } from './org-shape.js';
import { guidOf, mix } from './prng.js';

export type RoomList = { id: string; emailAddress: string; displayName: string; building: string };

export type OrgOptions = {
  seed: number;
  provider: Provider;
  domain: string;
  users: number;
  rooms: number;
  /** Opt-in (default off): an org-unit tree (org-units.ts) and groups, nested and empty (groups.ts). */
  structure?: boolean | undefined;
  /** Opt-in (default none): more verified domains, users spread over them (domains.ts). */
  domains?: readonly string[] | undefined;
  /** Opt-in (default off): UPN ≠ mail, proxy addresses, guests, equipment mailboxes, building ids (org-shape.ts). */
  shapes?: boolean | undefined;
};

/**
 * One provider's organization: its users and rooms, generated lazily from the seed, plus whatever the
 * control API changed. Nothing here is provider wire format; the routes render these records.
 */
export class Org {
  readonly provider: Provider;
  readonly domain: string;
  readonly users: LazyCollection<DirUser>;
  readonly rooms: LazyCollection<DirRoom>;
  readonly roomLists: readonly RoomList[];
  /** Every verified domain, the primary first (more only with OrgOptions `domains`). */
  readonly domains: readonly string[];
  /** Org units and groups exist (OrgOptions `structure`). */
  readonly structure: boolean;
  readonly groups: readonly SandboxGroup[];
  /** Real-tenant shapes are on (OrgOptions `shapes`). */
  readonly shapes: boolean;
  readonly seed: number;

  constructor(opts: OrgOptions) {
    this.provider = opts.provider;
    this.domain = opts.domain.toLowerCase();
    // Google and Microsoft orgs built from the same seed are different orgs.
    this.seed = mix(opts.seed, opts.provider === 'google' ? 1 : 2, 0x5eed);
    const gen: GenParams = {
      seed: this.seed,
      provider: opts.provider,
      domain: this.domain,
      rooms: opts.rooms,
    };
    const domainSuffix = `@${this.domain}`;
    this.domains = [this.domain, ...(opts.domains ?? []).map((d) => d.toLowerCase())];
    this.structure = opts.structure === true;
    this.shapes = opts.shapes === true;
    this.groups = this.structure ? groupsOf(this.seed, opts.provider, this.domain) : [];
    this.users = new LazyCollection(
      opts.users,
      (i) => {
        const u = spreadOverDomains(this.seed, generateUser(gen, i), this.domains);
        return this.shapes ? shapeUser(this.seed, opts.provider, u, this.domains) : u;
      },
      (key) => {
        const local = localPartIn(
          key,
          this.shapes ? [...this.domains, guestDomain(this.seed)] : this.domains,
        );
        if (local !== undefined) {
          return indexFromLocalPart(local);
        }
        return opts.provider === 'microsoft' ? indexFromGuid(this.seed, ID_SALTS.user, key, '8') : undefined;
      },
    );
    this.rooms = new LazyCollection(
      opts.rooms,
      (i) => (this.shapes ? shapeRoom(this.seed, opts.provider, generateRoom(gen, i)) : generateRoom(gen, i)),
      (key) => {
        if (opts.provider === 'google') {
          return indexFromGoogleRoomEmail(key);
        }
        if (key.startsWith('rm.') && key.endsWith(domainSuffix)) {
          return indexFromLocalPart(key.slice(0, -domainSuffix.length));
        }
        return indexFromGuid(this.seed, ID_SALTS.room, key, '9');
      },
    );
    this.roomLists =
      opts.rooms === 0
        ? []
        : BUILDINGS.slice(0, buildingCount(opts.rooms)).map(([name, slug], k) => ({
            id: guidOf(this.seed, 1000 + k),
            emailAddress: `roomlist.${slug}@${this.domain}`,
            displayName: `${name} Rooms`,
            building: name,
          }));
  }

  /** A user or a room by email or id (Microsoft mailboxes are addressed either way). */
  findMailbox(key: string): { user: DirUser } | { room: DirRoom } | undefined {
    const user = this.users.find(key);
    if (user) {
      return { user };
    }
    const room = this.rooms.find(key);
    return room ? { room } : undefined;
  }

  findRoomList(key: string): RoomList | undefined {
    const k = key.toLowerCase();
    return this.roomLists.find((l) => l.emailAddress === k || l.id === k);
  }

  /** A user's display name split into given and family names (for renames through the control API). */
  static splitName(name: string): { givenName: string; familyName: string } {
    const at = name.lastIndexOf(' ');
    return at < 0
      ? { givenName: name, familyName: '' }
      : { givenName: name.slice(0, at), familyName: name.slice(at + 1) };
  }

  /** A fresh user record for the control API's add. */
  newUser(
    pos: number,
    input: { email: string; name: string; suspended?: boolean | undefined; mailbox?: boolean | undefined },
  ): DirUser {
    const h = mix(this.seed, pos, 0xadd);
    const hex = (n: number) => mix(this.seed, pos, n).toString(16).padStart(8, '0');
    return {
      pos,
      id:
        this.provider === 'microsoft'
          ? `${hex(1)}-${hex(2).slice(0, 4)}-4${hex(3).slice(0, 3)}-b${hex(4).slice(0, 3)}-${hex(5)}${hex(6).slice(0, 4)}`
          : `1${String(h % 1e8).padStart(8, '0')}9${String(pos).padStart(11, '0')}`,
      email: input.email,
      ...Org.splitName(input.name),
      displayName: input.name,
      suspended: input.suspended ?? false,
      mailbox: input.mailbox ?? true,
      shared: false,
      admin: false,
      accessDenied: false,
      createdAt: new Date().toISOString(),
      secondaryCalendars: 0,
      timeZone: 'Europe/London',
    };
  }

  newRoom(
    pos: number,
    input: {
      email?: string | undefined;
      name: string;
      capacity?: number | null | undefined;
      building?: string | null | undefined;
      floor?: number | null | undefined;
    },
  ): DirRoom {
    const hex = mix(this.seed, pos, 0x400).toString(16).padStart(8, '0');
    const floor = input.floor ?? null;
    return {
      pos,
      id:
        this.provider === 'microsoft'
          ? `${hex}-0000-4000-b000-${String(pos).padStart(12, '0')}`
          : `${mix(this.seed, pos, 0x401)}9${pos}`,
      resourceId: `${mix(this.seed, pos, 0x401)}9${pos}`,
      email:
        input.email ??
        (this.provider === 'google'
          ? `c_added${hex}${pos}@resource.calendar.google.com`
          : `room.added${pos}@${this.domain}`),
      name: input.name,
      capacity: input.capacity ?? null,
      building: input.building ?? null,
      floorNumber: floor,
      floorLabel: floor === null ? null : String(floor),
      category: 'CONFERENCE_ROOM',
    };
  }
}
