import type { DirUser } from '../generate.js';
import { findOrgUnit, inOrgUnit, orgUnitOf, parseOrgUnitQuery } from '../org-units.js';
import type { GoogleTenant } from '../state.js';

/**
 * users.list's `query` and `domain` as a filter: undefined for none, a message for a query this
 * sandbox does not serve (or an unknown unit: Google answers `Invalid Input: INVALID_OU_ID`).
 */
export function usersListFilter(
  tenant: GoogleTenant,
  query: string | undefined,
  domain: string | undefined,
): ((u: DirUser) => boolean) | undefined | string {
  const org = tenant.org;
  const suffix = domain === undefined ? undefined : `@${domain.toLowerCase()}`;
  const inDomain = (u: DirUser) => suffix === undefined || u.email.toLowerCase().endsWith(suffix);
  if (query === undefined || query.trim() === '') {
    return suffix === undefined ? undefined : inDomain;
  }
  const path = parseOrgUnitQuery(query);
  if (path === undefined) {
    return 'Invalid Input: query';
  }
  const unit = org.structure ? findOrgUnit(path) : path.replace(/\/+$/, '') || '/';
  if (unit === undefined || (!org.structure && unit !== '/')) {
    return 'Invalid Input: INVALID_OU_ID';
  }
  return (u) => inDomain(u) && inOrgUnit(org.structure ? orgUnitOf(org.seed, u) : '/', unit, true);
}
