import type { DirRoom, DirUser, Provider } from './generate.js';
import { indexFromLocalPart } from './generate.js';
import { hexOf, mix, unit } from './prng.js';

/**
 * Opt-in org shapes real tenants have and the default sandbox org does not (OrgOptions `shapes`),
 * deterministic from the seed; an org without it is byte for byte what it was.
 * - Microsoft: users whose user principal name is not their mail (`…@<tenant>.onmicrosoft.com`),
 *   users with a secondary proxy address (`smtp:`), guests (`userType: Guest`, an outside address,
 *   a `#EXT#` UPN), and equipment mailboxes (resources with category OTHER): in `/users` as disabled
 *   accounts with `mailboxSettings.userPurpose: equipment`, not in `/places`.
 * - Google: buildings whose id is not their name (`resources.buildings.list` names them).
 * Index 10 has a UPN ≠ mail, 11 a proxy address, 12 is a guest (unless that index is a shared
 * mailbox, which keeps its shape); past 12 each is a share.
 */
const SALT = { upn: 0x5a01, proxy: 0x5a02, guest: 0x5a03, building: 0x5a04 } as const;
const FORCED = { upn: 10, proxy: 11, guest: 12 } as const;
const SHARE = { upn: 0.1, proxy: 0.1, guest: 0.03 } as const;

function has(seed: number, i: number, kind: keyof typeof FORCED): boolean {
  return i === FORCED[kind] || (i > FORCED.guest && unit(mix(seed, i, SALT[kind])) < SHARE[kind]);
}

/** The tenant's initial domain (`<label>.onmicrosoft.com`), from its primary domain. */
export function initialDomain(primary: string): string {
  return `${(primary.split('.')[0] ?? 'tenant').replace(/[^a-z0-9-]/g, '')}.onmicrosoft.com`;
}

/** Where guests come from: an outside domain, the same for the whole org. */
export function guestDomain(seed: number): string {
  return `partner-${hexOf(seed, 0, SALT.guest, 6)}.example.net`;
}

function localOf(email: string): string {
  return email.slice(0, email.lastIndexOf('@')).split('+')[0] ?? '';
}

/** A generated user with its shape (Microsoft only; admins and shared mailboxes keep theirs). */
export function shapeUser(seed: number, provider: Provider, u: DirUser, domains: readonly string[]): DirUser {
  if (provider !== 'microsoft' || u.admin || u.shared) {
    return u;
  }
  const i = u.pos;
  const primary = domains[0] ?? '';
  const local = localOf(u.email);
  if (has(seed, i, 'guest')) {
    const email = `${local}@${guestDomain(seed)}`;
    return {
      ...u,
      email,
      guest: true,
      upn: `${local}_${guestDomain(seed)}#EXT#@${initialDomain(primary)}`,
      proxyAddresses: [`SMTP:${email}`],
    };
  }
  let out = u;
  if (has(seed, i, 'upn')) {
    out = { ...out, upn: `${local}@${initialDomain(primary)}` };
  }
  if (has(seed, i, 'proxy')) {
    // A second address: family.given<index>@ another verified domain when there is one.
    const [given, family] = local.split('.');
    const aliasDomain = domains[1 + (mix(seed, i, SALT.proxy) % Math.max(1, domains.length - 1))] ?? primary;
    const alias = `${(family ?? '').replace(/\d+$/, '')}.${given ?? ''}${i}@${aliasDomain}`.toLowerCase();
    out = { ...out, proxyAddresses: [`SMTP:${u.email}`, `smtp:${alias}`] };
  }
  return out;
}

/** Google building ids are opaque (`bld-<hex>`), not the name rooms show. */
export function shapeRoom(seed: number, provider: Provider, r: DirRoom): DirRoom {
  if (provider !== 'google' || r.building === null) {
    return r;
  }
  return { ...r, buildingId: buildingIdOf(seed, r.building) };
}

export function buildingIdOf(seed: number, name: string): string {
  let h = 0;
  for (const ch of name) {
    h = mix(h, ch.codePointAt(0) ?? 0, SALT.building);
  }
  return `bld-${mix(seed, h, SALT.building).toString(16).padStart(8, '0')}`;
}

/** The user principal name Graph shows: the mail unless the shape gave another. */
export function upnOf(u: DirUser): string {
  return u.upn ?? u.email;
}

/** Every address that reaches the user (lower-cased): its mail and proxy addresses. */
export function addressesOf(u: DirUser): string[] {
  const out = new Set([u.email.toLowerCase()]);
  for (const p of u.proxyAddresses ?? []) {
    if (/^smtp:/i.test(p)) {
      out.add(p.slice(5).toLowerCase());
    }
  }
  return [...out];
}

/** The base index a shaped address or UPN would have (its local part's trailing digits). */
export function indexFromAddress(key: string): number | undefined {
  const at = key.lastIndexOf('@');
  if (at < 0) {
    return undefined;
  }
  // A guest's UPN: `<local>_<domain>#EXT#@…`.
  const local = key.slice(0, at).replace(/_[^_]*#ext#$/i, '');
  return indexFromLocalPart(local);
}
