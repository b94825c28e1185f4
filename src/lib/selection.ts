/**
 * A selection: the part of a directory a provisioning run or a directory sync keeps to (a union of
 * Google org units, groups, domains and explicit emails). Stored as JSON on runs and Service
 * Accounts; the explicit emails, up to MAX_SELECTION_EMAILS, live in `selection_emails` under the
 * owner's id and only their count is kept here. It sits in lib/ because the db schema, the job
 * payloads and the services all name it.
 */
import { hasUnstorableText } from './text.js';

export type StoredSelection = {
  org_units: { path: string; include_children: boolean }[];
  groups: string[];
  domains: string[];
  /** How many explicit emails the owner holds in `selection_emails`. */
  emails: number;
};

/** Explicit emails one selection may name (one upload to `POST /v1/provisioning_runs`). */
export const MAX_SELECTION_EMAILS = 50_000;
/** Org units, groups and domains one selection may name, each. */
export const MAX_SELECTION_TARGETS = 100;

/** RFC 5321's limit on a whole address. */
const MAX_EMAIL_LENGTH = 320;
// Printable, no spaces or controls, one @, a dot in the domain. Lenient on the local part (quoted
// forms are not accepted: no directory hands them out), strict on what can never be an address.
const EMAIL =
  /^[^\s@"(),:;<>[\\\]\p{Cc}]+@[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]*[a-z0-9\u00a1-\uffff])?(?:\.[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]*[a-z0-9\u00a1-\uffff])?)+$/iu;
const DOMAIN =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** Whether `s` can be an email address (syntax only; the directory says whether it exists). */
export function isEmailAddress(s: string): boolean {
  return s.length <= MAX_EMAIL_LENGTH && !hasUnstorableText(s) && EMAIL.test(s);
}

/** A domain name, lower-cased, or undefined when `s` is not one. */
export function domainName(s: string): string | undefined {
  const d = s.trim().toLowerCase().replace(/\.$/, '');
  return DOMAIN.test(d) ? d : undefined;
}

/** An org unit path in Google's form (`/A/B`), or undefined: controls, NUL, empty segments refused. */
export function orgUnitPath(s: string): string | undefined {
  if (hasUnstorableText(s) || /\p{Cc}/u.test(s) || s.length > 1000) {
    return undefined;
  }
  const trimmed = s.trim();
  if (!trimmed.startsWith('/')) {
    return undefined;
  }
  const parts = trimmed.split('/').slice(1);
  if (trimmed === '/') {
    return '/';
  }
  return parts.every((p) => p.trim() !== '') ? `/${parts.map((p) => p.trim()).join('/')}` : undefined;
}

/** Whether a selection names anything at all. */
export function selectsAnything(s: StoredSelection): boolean {
  return s.org_units.length + s.groups.length + s.domains.length + s.emails > 0;
}

/** `orgUnitPath` as a users.list query value: quoted, a quote or backslash inside escaped (Google's search syntax). */
export function orgUnitQuery(path: string): string {
  return `orgUnitPath='${path.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
