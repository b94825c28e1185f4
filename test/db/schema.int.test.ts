import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { Keyring } from '../../src/lib/crypto.js';
import * as f from '../factories/index.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';
import { useTestDatabase } from '../helpers/db.js';

const t = useTestDatabase();
const [id, b64] = TEST_ENCRYPTION_KEYS.split(':') as [string, string];
const keyring = new Keyring([{ id, key: Buffer.from(b64, 'base64') }]);

/** The Postgres error code of a failed drizzle query (drizzle wraps the driver error as `cause`). */
async function pgCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return (err as { cause?: { code?: string } }).cause?.code;
  }
  return undefined;
}

describe('data model', () => {
  it('has a factory for every table, and each inserts a row', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    await f.createApplicationSecret(t.db, keyring, sa.applicationId);
    const entry = await f.createDirectoryEntry(t.db, sa.id, {
      kind: 'room',
      capacity: 8,
      building: 'HQ',
      floor: '2',
    });
    const account = await f.createAccount(t.db, sa, { directoryEntryId: entry.id, kind: 'room' });
    const profile = await f.createProfile(t.db, account);
    await f.createCalendar(t.db, profile);
    await f.createToken(t.db, { applicationId: sa.applicationId, accountId: account.id });
    await f.createToken(
      t.db,
      { applicationId: sa.applicationId, serviceAccountId: sa.id },
      { kind: 'refresh' },
    );
    await f.createAuthorizationCode(t.db, { applicationId: sa.applicationId, accountId: account.id });
    const run = await f.createProvisioningRun(t.db, sa);
    await f.createRunItem(t.db, run.id, { directoryEntryId: entry.id });
    await f.createChannel(t.db, account);
    await f.createOutboundDelivery(t.db, keyring, sa.applicationId, { runId: run.id });
    await f.createAuditEvent(t.db, { applicationId: sa.applicationId });
    await f.createRunProviderCalls(t.db, run.id);
    await f.createProfileStateDay(t.db, sa.id);

    for (const table of [
      'applications',
      'application_secrets',
      'service_accounts',
      'directory_entries',
      'accounts',
      'profiles',
      'calendars',
      'tokens',
      'authorization_codes',
      'provisioning_runs',
      'run_items',
      'channels',
      'outbound_deliveries',
      'audit_events',
      'run_provider_calls',
      'profile_state_days',
    ]) {
      const [row] = await t.db.execute<{ n: number }>(
        sql`select count(*)::int as n from ${sql.identifier(table)}`,
      );
      expect(row?.n, table).toBeGreaterThan(0);
    }
  });

  it('allows exactly one Account per Service Account and lower-cased email', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    await f.createAccount(t.db, sa, { email: 'Jane.Doe@Example.com' });
    expect(await pgCode(f.createAccount(t.db, sa, { email: 'jane.doe@example.com' }))).toBe('23505');
    expect(await pgCode(f.createAccount(t.db, sa, { email: 'JANE.DOE@EXAMPLE.COM' }))).toBe('23505');
    // The same person under another Service Account is another Account.
    const other = await f.createServiceAccount(t.db, keyring);
    await expect(f.createAccount(t.db, other, { email: 'jane.doe@example.com' })).resolves.toBeDefined();
    // email_lower cannot drift from email.
    expect(
      await pgCode(f.createAccount(t.db, sa, { email: 'New@example.com', emailLower: 'other@example.com' })),
    ).toBe('23514');
  });

  it('allows one run item per run and lower-cased email', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    const run = await f.createProvisioningRun(t.db, sa);
    await f.createRunItem(t.db, run.id, { email: 'Room.1@example.com' });
    expect(await pgCode(f.createRunItem(t.db, run.id, { email: 'room.1@example.com' }))).toBe('23505');
  });

  it('deletes everything under an Application through the keys that remain (migrations 0006, 0010)', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    const app = sa.applicationId;
    const account = await f.createAccount(t.db, sa);
    const profile = await f.createProfile(t.db, account);
    await f.createCalendar(t.db, profile);
    await f.createToken(t.db, { applicationId: app, accountId: account.id });
    await f.createToken(t.db, { applicationId: app, serviceAccountId: sa.id }, { kind: 'refresh' });
    await f.createAuthorizationCode(t.db, { applicationId: app, accountId: account.id });
    await f.createAuthorizationCode(t.db, { applicationId: app, serviceAccountId: sa.id });
    // A run whose item refers to the Account and to its directory entry (references without keys since 0010).
    const entry = await f.createDirectoryEntry(t.db, sa.id, { email: account.email });
    await t.db.execute(sql`update accounts set directory_entry_id = ${entry.id} where id = ${account.id}`);
    const run = await f.createProvisioningRun(t.db, sa);
    await f.createRunItem(t.db, run.id, {
      email: account.email,
      status: 'provisioned',
      accountId: account.id,
      directoryEntryId: entry.id,
    });
    // Another Application's rows stay.
    const other = await f.createServiceAccount(t.db, keyring);
    const kept = await f.createProfile(t.db, await f.createAccount(t.db, other));
    await f.createCalendar(t.db, kept);

    const count = async (table: string, column: string, value: string) => {
      const [row] = await t.db.execute<{ n: number }>(
        sql`select count(*)::int as n from ${sql.identifier(table)} where ${sql.identifier(column)} = ${value}`,
      );
      return row?.n;
    };
    expect(await count('calendars', 'account_id', account.id)).toBe(1);
    await t.db.execute(sql`delete from applications where id = ${app}`);
    for (const table of ['accounts', 'tokens', 'authorization_codes']) {
      expect(await count(table, 'application_id', app), table).toBe(0);
    }
    expect(await count('profiles', 'service_account_id', sa.id)).toBe(0);
    expect(await count('directory_entries', 'service_account_id', sa.id)).toBe(0);
    expect(await count('run_items', 'run_id', run.id)).toBe(0);
    expect(await count('run_items', 'account_id', account.id)).toBe(0);
    expect(await count('calendars', 'account_id', account.id)).toBe(0);
    expect(await count('calendars', 'account_id', kept.accountId)).toBe(1);
  });

  it('refuses a code without the id of its subject', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    expect(
      await pgCode(
        f.createAuthorizationCode(t.db, { applicationId: sa.applicationId }, { subjectType: 'account' }),
      ),
    ).toBe('23514');
  });

  it('rejects statuses and kinds outside the vocabulary', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    expect(await pgCode(f.createAccount(t.db, sa, { kind: 'robot' as 'user' }))).toBe('23514');
    expect(await pgCode(f.createProvisioningRun(t.db, sa, { status: 'paused' as 'queued' }))).toBe('23514');
    const account = await f.createAccount(t.db, sa);
    expect(await pgCode(f.createProfile(t.db, account, { connected: false }))).toBe('23514');
  });

  it('has partial indexes whose predicates match the due-Profile sweeps', async () => {
    // With seq scans priced out, the planner can only use an index whose predicate the query implies.
    const plans = await t.db.transaction(async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`);
      const out: string[] = [];
      for (const connected of [sql`connected`, sql`not connected`]) {
        const plan = await tx.execute<{ 'QUERY PLAN': string }>(sql`
          explain select id from profiles where ${connected} and next_check_at is not null
          and next_check_at <= now() order by next_check_at limit 500`);
        out.push(plan.map((r) => r['QUERY PLAN']).join('\n'));
      }
      return out;
    });
    expect(plans[0]).toContain('profiles_connected_due_idx');
    expect(plans[1]).toContain('profiles_disconnected_due_idx');
  });

  it('redeems a code in place: marking it used writes no index entry (a HOT update)', async () => {
    const sa = await f.createServiceAccount(t.db, keyring);
    const account = await f.createAccount(t.db, sa);
    const codes: { id: string }[] = [];
    for (let i = 0; i < 3; i++) {
      codes.push(
        (await f.createAuthorizationCode(t.db, { applicationId: sa.applicationId, accountId: account.id }))
          .row,
      );
    }
    // The redemption's change (tokens.ts redeemAuthorizationCode): used_at only. A HOT update needs no
    // indexed column changed (predicates included) and room on the page (the table's fillfactor).
    const counts = await t.db.transaction(async (tx) => {
      for (const c of codes) {
        await tx.execute(sql`update authorization_codes set used_at = now() where id = ${c.id}`);
      }
      const [row] = await tx.execute<{ upd: number; hot: number }>(sql`
        select n_tup_upd::int as upd, n_tup_hot_upd::int as hot from pg_stat_xact_user_tables
         where relname = 'authorization_codes'`);
      return row;
    });
    expect(counts).toEqual({ upd: 3, hot: 3 });
  });
});
