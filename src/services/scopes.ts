/**
 * Cronofy scopes. Service Account tokens carry `service_account/...` scopes; Account tokens carry
 * calendar scopes, which must lie within the Service Account's `delegated_scope`.
 */
export const SERVICE_ACCOUNT_SCOPES = [
  'service_account/accounts/manage',
  'service_account/accounts/unrestricted_access',
  'service_account/resources/manage',
  'service_account/resources/unrestricted_access',
] as const;

export const DEFAULT_SERVICE_ACCOUNT_SCOPE =
  'service_account/accounts/manage service_account/resources/manage';
export const DEFAULT_DELEGATED_SCOPE = 'read_write';

const GRANULAR = [
  'read_account',
  'list_calendars',
  'read_events',
  'create_event',
  'delete_event',
  'read_free_busy',
  'change_participation_status',
  'create_calendar',
] as const;

/** Shorthand scopes and the granular scopes they stand for. */
const SHORTHANDS: Record<string, readonly string[]> = {
  read_write: GRANULAR,
  read_only: ['read_account', 'list_calendars', 'read_events', 'read_free_busy'],
  write_only: ['read_account', 'create_event', 'delete_event'],
  free_busy: ['read_account', 'read_free_busy'],
  free_busy_write: ['read_account', 'read_free_busy', 'create_event', 'delete_event'],
};

export function splitScope(scope: string): string[] {
  return scope.split(/\s+/).filter(Boolean);
}

function expand(scope: string): Set<string> | undefined {
  const out = new Set<string>();
  for (const part of splitScope(scope)) {
    const short = SHORTHANDS[part];
    if (short) {
      for (const s of short) {
        out.add(s);
      }
    } else if ((GRANULAR as readonly string[]).includes(part)) {
      out.add(part);
    } else {
      return undefined;
    }
  }
  return out;
}

/** True when `scope` is a known calendar scope. */
export function isCalendarScope(scope: string): boolean {
  const set = expand(scope);
  return set !== undefined && set.size > 0;
}

/** True when every permission of `requested` is granted by `delegated`. */
export function scopeWithin(requested: string, delegated: string): boolean {
  const want = expand(requested);
  const have = expand(delegated);
  if (!want || !have || want.size === 0) {
    return false;
  }
  return [...want].every((s) => have.has(s));
}

export function isServiceAccountScope(scope: string): boolean {
  const parts = splitScope(scope);
  return parts.length > 0 && parts.every((p) => (SERVICE_ACCOUNT_SCOPES as readonly string[]).includes(p));
}

/** A Service Account scope allows `need` (`accounts` or `resources`) by manage or unrestricted_access. */
export function serviceAccountScopeAllows(scope: string, need: 'accounts' | 'resources'): boolean {
  const parts = splitScope(scope);
  return (
    parts.includes(`service_account/${need}/manage`) ||
    parts.includes(`service_account/${need}/unrestricted_access`)
  );
}
