import type { DirUser } from './generate.js';
import { orgUnitOf } from './org-units.js';
import { guidOf, hexOf, mix } from './prng.js';

/**
 * The groups of a sandbox org with `structure` on (OrgOptions): direct members drawn from the seed
 * (a bucket of 0–9 per user), groups nested in groups two levels deep, and one group with no members.
 */
export type SandboxGroupDef = {
  slug: string;
  name: string;
  /** Users whose bucket is listed are direct members. */
  buckets: readonly number[];
  /** Groups that are members of this one. */
  groups: readonly string[];
};

export const GROUP_DEFS: readonly SandboxGroupDef[] = [
  { slug: 'platform', name: 'Platform team', buckets: [0], groups: [] },
  { slug: 'apps', name: 'Apps team', buckets: [1], groups: [] },
  { slug: 'engineering', name: 'All engineering', buckets: [2], groups: ['platform', 'apps'] },
  { slug: 'all-hands', name: 'All hands', buckets: [3], groups: ['engineering'] },
  { slug: 'new-starters', name: 'New starters', buckets: [], groups: [] },
];

export type SandboxGroup = SandboxGroupDef & { index: number; id: string; email: string };

const SALT = 0x6e0;

export function groupsOf(seed: number, provider: 'google' | 'microsoft', domain: string): SandboxGroup[] {
  return GROUP_DEFS.map((g, index) => ({
    ...g,
    index,
    id: provider === 'microsoft' ? guidOf(seed, 0x6700 + index) : `0${hexOf(seed, index, SALT, 14)}`,
    email: `${g.slug}@${domain}`,
  }));
}

/** User `u`'s bucket: which groups hold it directly. */
export function groupBucket(seed: number, u: Pick<DirUser, 'pos'>): number {
  return mix(seed, u.pos, SALT) % 10;
}

export function isDirectMember(seed: number, g: SandboxGroupDef, u: Pick<DirUser, 'pos'>): boolean {
  return g.buckets.includes(groupBucket(seed, u));
}

/** Direct member, or a member of a group nested in `g` at any depth. */
export function isTransitiveMember(
  seed: number,
  g: SandboxGroupDef,
  u: Pick<DirUser, 'pos'>,
  seen: Set<string> = new Set(),
): boolean {
  if (isDirectMember(seed, g, u)) {
    return true;
  }
  seen.add(g.slug);
  return g.groups.some((slug) => {
    const child = GROUP_DEFS.find((d) => d.slug === slug);
    return child !== undefined && !seen.has(slug) && isTransitiveMember(seed, child, u, seen);
  });
}

/**
 * Ground truth for the control API's user listing (tests compute expected counts from it): the
 * user's org unit and the groups holding it, directly or through nested groups. Nothing without
 * `structure`.
 */
export function structureView(
  org: { seed: number; structure: boolean; groups: readonly SandboxGroup[] },
  u: DirUser,
): { orgUnitPath?: string; groups?: string[] } {
  if (!org.structure) {
    return {};
  }
  return {
    orgUnitPath: orgUnitOf(org.seed, u),
    groups: org.groups.filter((g) => isTransitiveMember(org.seed, g, u)).map((g) => g.email),
  };
}
