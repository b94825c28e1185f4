import type { DirUser } from './generate.js';
import { mix } from './prng.js';

/**
 * The org-unit tree of a sandbox org with `structure` on (OrgOptions): a small fixed tree, and each
 * user's unit drawn from the seed. Google's own semantics apply: `orgUnitPath='/X'` in a users.list
 * query matches `/X` and every unit below it; `/` is the root and holds the whole org.
 */
export const ORG_UNIT_PATHS = [
  '/',
  '/Engineering',
  '/Engineering/Platform',
  '/Engineering/Platform/Storage',
  '/Engineering/Apps',
  '/Sales',
  '/Sales/EMEA',
  '/Customer Support',
] as const;

const SALT = 0x0a17;

/** A user moved by the control API (structure-control.ts) carries its unit on its record. */
export type WithOrgUnit = { orgUnitPath?: string };

/**
 * The unit user `u` sits in: where the control API moved it, else the admin (position 0) at the
 * root and everyone else drawn from the seed.
 */
export function orgUnitOf(seed: number, u: Pick<DirUser, 'pos' | 'admin'> & WithOrgUnit): string {
  if (typeof u.orgUnitPath === 'string') {
    return u.orgUnitPath;
  }
  if (u.pos === 0 || u.admin) {
    return '/';
  }
  return ORG_UNIT_PATHS[mix(seed, u.pos, SALT) % ORG_UNIT_PATHS.length] as string;
}

/** Whether `unitPath` is `target` or (with children) below it; case-insensitive, as Google's paths. */
export function inOrgUnit(unitPath: string, target: string, withChildren: boolean): boolean {
  const a = unitPath.toLowerCase();
  const t = target.replace(/\/+$/, '').toLowerCase() || '/';
  if (a === t) {
    return true;
  }
  return withChildren && (t === '/' || a.startsWith(`${t}/`));
}

export function findOrgUnit(path: string): string | undefined {
  const p = `/${path.replace(/^\/+|\/+$/g, '')}`.toLowerCase();
  return ORG_UNIT_PATHS.find((u) => u.toLowerCase() === p);
}

export function parentOf(path: string): string | undefined {
  if (path === '/') {
    return undefined;
  }
  const at = path.lastIndexOf('/');
  return at <= 0 ? '/' : path.slice(0, at);
}

/**
 * The one query form served on users.list: `orgUnitPath=<path>`, the value in single quotes when it
 * holds spaces (a quote inside escaped as `\'`). Undefined: not that form.
 */
export function parseOrgUnitQuery(query: string): string | undefined {
  const m = /^\s*orgUnitPath\s*=\s*(?:'((?:[^'\\]|\\.)*)'|([^\s']+))\s*$/.exec(query);
  if (!m) {
    return undefined;
  }
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}
