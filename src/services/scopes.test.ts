import { describe, expect, it } from 'vitest';
import { isCalendarScope, isServiceAccountScope, scopeWithin, serviceAccountScopeAllows } from './scopes.js';

describe('scopes', () => {
  it('checks requested calendar scopes against the delegated scope', () => {
    expect(scopeWithin('read_events', 'read_write')).toBe(true);
    expect(scopeWithin('read_only', 'read_write')).toBe(true);
    expect(scopeWithin('read_write', 'read_only')).toBe(false);
    expect(scopeWithin('read_events', 'free_busy')).toBe(false);
    expect(scopeWithin('read_free_busy', 'free_busy')).toBe(true);
    expect(scopeWithin('create_event delete_event', 'free_busy_write')).toBe(true);
    expect(scopeWithin('nonsense', 'read_write')).toBe(false);
    expect(scopeWithin('', 'read_write')).toBe(false);
  });

  it('recognises scopes', () => {
    expect(isCalendarScope('read_account list_calendars')).toBe(true);
    expect(isCalendarScope('root')).toBe(false);
    expect(isServiceAccountScope('service_account/accounts/manage service_account/resources/manage')).toBe(
      true,
    );
    expect(isServiceAccountScope('service_account/everything')).toBe(false);
    expect(serviceAccountScopeAllows('service_account/resources/manage', 'accounts')).toBe(false);
    expect(serviceAccountScopeAllows('service_account/accounts/unrestricted_access', 'accounts')).toBe(true);
  });
});
