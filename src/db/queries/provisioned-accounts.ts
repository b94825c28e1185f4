import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import type { IdFactory, ProvisionedMailbox } from './accounts.js';
import { jsonRecordset, jsonRows } from './json-rows.js';

const MAILBOX_COLUMNS = {
  account_id: 'text',
  profile_id: 'text',
  application_id: 'text',
  service_account_id: 'text',
  directory_entry_id: 'text',
  kind: 'text',
  email: 'text',
  email_lower: 'text',
  name: 'text',
  scope: 'text',
  provider: 'text',
  provider_id: 'text',
  next_check_at: 'timestamptz',
};

const CALENDAR_COLUMNS = {
  id: 'text',
  profile_id: 'text',
  account_id: 'text',
  provider_calendar_id: 'text',
  name: 'text',
  readonly: 'boolean',
  is_primary: 'boolean',
};

/**
 * The provisioning pipeline's write of a batch of Accounts (the same effect as
 * upsertProvisionedAccounts, which the one-by-one paths keep): each batch's Accounts and Profiles in ONE
 * statement (data-modifying CTEs over one JSON parameter), its Calendars in a second. Building
 * drizzle's multi-row inserts cost about a tenth of a worker's CPU per Account; this costs two
 * JSON.stringify calls. Returns the Account id of each mailbox, in order. Must run inside a
 * transaction; emails distinct within the batch (per Service Account).
 */
export async function upsertProvisionedAccountIds(
  tx: DbOrTx,
  batch: ProvisionedMailbox[],
  ids: IdFactory,
): Promise<string[]> {
  if (batch.length === 0) {
    return [];
  }
  const rows = batch.map((m) => ({
    account_id: ids.account(),
    profile_id: ids.profile(),
    application_id: m.applicationId,
    service_account_id: m.serviceAccountId,
    directory_entry_id: m.directoryEntryId,
    kind: m.kind,
    email: m.email,
    email_lower: m.email.toLowerCase(),
    name: m.name,
    scope: m.scope,
    provider: m.provider,
    provider_id: m.providerId,
    next_check_at: m.nextCheckAt.toISOString(),
  }));
  const input = jsonRecordset(rows, MAILBOX_COLUMNS);
  const result = await tx.execute<{ account_id: string; profile_id: string; email_lower: string }>(sql`
    with a as (
      insert into accounts as t (id, application_id, service_account_id, directory_entry_id, kind, email, email_lower, name, scope)
      select account_id, application_id, service_account_id, directory_entry_id, kind, email, email_lower, name, scope
      from ${input}
      on conflict (service_account_id, email_lower) do update set
        name = excluded.name, kind = excluded.kind, scope = excluded.scope, status = 'active',
        revoked_at = null, directory_entry_id = coalesce(excluded.directory_entry_id, t.directory_entry_id),
        updated_at = now()
      returning t.id, t.service_account_id, t.email_lower
    ), p as (
      insert into profiles as t (id, account_id, service_account_id, provider, provider_profile_id, profile_name, next_check_at)
      select r.profile_id, a.id, r.service_account_id, r.provider, r.provider_id, r.email, r.next_check_at
      from ${input} join a on a.service_account_id = r.service_account_id and a.email_lower = r.email_lower
      on conflict (account_id) do update set
        provider_profile_id = excluded.provider_profile_id, profile_name = excluded.profile_name,
        connected = true, disconnect_reason = null, disconnected_at = null, failure_count = 0,
        last_checked_at = now(), next_check_at = excluded.next_check_at, updated_at = now()
      returning t.id, t.account_id
    )
    select a.id as account_id, p.id as profile_id, a.email_lower
    from a join p on p.account_id = a.id`);
  const byEmail = new Map(result.map((r) => [r.email_lower, r]));
  const seen = new Set<string>();
  const calendarRows: Record<string, unknown>[] = [];
  const accountIds = batch.map((m) => {
    const row = byEmail.get(m.email.toLowerCase());
    if (!row) {
      throw new Error(`account upsert returned nothing for ${m.email}`);
    }
    for (const c of m.calendars) {
      const key = `${row.profile_id}|${c.providerCalendarId}`;
      if (!seen.has(key)) {
        seen.add(key);
        calendarRows.push({
          id: ids.calendar(),
          profile_id: row.profile_id,
          account_id: row.account_id,
          provider_calendar_id: c.providerCalendarId,
          name: c.name,
          readonly: c.readonly,
          is_primary: c.primary,
        });
      }
    }
    return row.account_id;
  });
  if (calendarRows.length > 0) {
    await tx.execute(sql`
      insert into calendars ${jsonRows(calendarRows, CALENDAR_COLUMNS)}
      on conflict (profile_id, provider_calendar_id) do update set
        name = excluded.name, readonly = excluded.readonly, is_primary = excluded.is_primary,
        deleted_at = null, updated_at = now()`);
  }
  return accountIds;
}
