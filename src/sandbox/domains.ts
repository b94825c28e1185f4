import type { DirUser } from './generate.js';
import { mix } from './prng.js';

/**
 * Several verified domains (OrgOptions `domains`, opt-in): users other than the admin are spread
 * over the primary domain and the extra ones, drawn from the seed. Rooms keep the primary domain.
 * Note for other sandbox areas: this list is the org's domain list (primary first, `Org.domains`);
 * build on it rather than adding a second one.
 */
const SALT = 0xd0a1;

export function spreadOverDomains(seed: number, u: DirUser, domains: readonly string[]): DirUser {
  if (domains.length < 2 || u.pos === 0 || u.admin) {
    return u;
  }
  const domain = domains[mix(seed, u.pos, SALT) % domains.length] as string;
  const at = u.email.lastIndexOf('@');
  return { ...u, email: `${u.email.slice(0, at)}@${domain}` };
}

/** The local part of `key` when it ends in one of `domains` (lower-cased), else undefined. */
export function localPartIn(key: string, domains: readonly string[]): string | undefined {
  for (const d of domains) {
    if (key.endsWith(`@${d}`)) {
      return key.slice(0, -(d.length + 1));
    }
  }
  return undefined;
}
