import { and, eq, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { accounts } from '../schema/accounts.js';
import { authorizationCodes } from '../schema/authorization-codes.js';
import { type OutboundDelivery, outboundDeliveries } from '../schema/outbound-deliveries.js';
import { serviceAccounts } from '../schema/service-accounts.js';
import { jsonRows } from './json-rows.js';

export type NewDelivery = typeof outboundDeliveries.$inferInsert;

/** Inserts a delivery unless one with this id exists; returns whether it was inserted. */
export async function insertDeliveryOnce(db: DbOrTx, row: NewDelivery): Promise<boolean> {
  return (await insertDeliveriesOnce(db, [row])).length > 0;
}

/** Inserts many deliveries in one statement, skipping ids that exist; returns the inserted ids. */
export async function insertDeliveriesOnce(db: DbOrTx, rows: NewDelivery[]): Promise<string[]> {
  if (rows.length === 0) {
    return [];
  }
  const inserted = await db.execute<{ id: string }>(sql`
    insert into outbound_deliveries ${jsonRows(
      rows.map((r) => ({
        id: r.id,
        application_id: r.applicationId,
        kind: r.kind,
        url: r.url,
        body_encrypted: r.bodyEncrypted,
        run_id: r.runId ?? null,
        account_id: r.accountId ?? null,
        channel_id: r.channelId ?? null,
        code_scope: r.codeScope ?? null,
        next_attempt_at: r.nextAttemptAt ?? null,
        claims: r.claims ?? 0,
      })),
      DELIVERY_COLUMNS,
    )}
    on conflict do nothing returning id`);
  return inserted.map((r) => r.id);
}

const DELIVERY_COLUMNS = {
  id: 'text',
  application_id: 'text',
  kind: 'text',
  url: 'text',
  body_encrypted: 'text',
  run_id: 'text',
  account_id: 'text',
  channel_id: 'text',
  code_scope: 'text',
  next_attempt_at: 'timestamptz',
  claims: 'integer',
};

export async function findDelivery(db: DbOrTx, id: string): Promise<OutboundDelivery | undefined> {
  const [row] = await db.select().from(outboundDeliveries).where(eq(outboundDeliveries.id, id));
  return row;
}

export type ClaimedDelivery = Pick<
  OutboundDelivery,
  | 'id'
  | 'applicationId'
  | 'kind'
  | 'url'
  | 'bodyEncrypted'
  | 'accountId'
  | 'codeScope'
  | 'attempts'
  | 'claims'
>;

/**
 * Claims due deliveries by lease: at most `perApplication` of each Application that is not in
 * `exclude`, `limit` in all, oldest due first. A claimed row's `next_attempt_at` moves `leaseMs`
 * ahead, so no other worker takes it while its attempt is in flight, and a worker that dies
 * mid-attempt only delays it by the lease. Applications are found by a skip scan over the claim
 * index (one index probe per Application), so a backlog of one Application never slows the
 * claim for another, and each gets its share of every claim.
 */
export async function claimDueDeliveries(
  db: DbOrTx,
  opts: { limit: number; perApplication: number; leaseMs: number; exclude: string[] },
): Promise<ClaimedDelivery[]> {
  const rows = await db.execute<{
    id: string;
    application_id: string;
    kind: OutboundDelivery['kind'];
    url: string;
    body_encrypted: string;
    account_id: string | null;
    code_scope: string | null;
    attempts: number;
    claims: number;
  }>(sql`
    with recursive apps(application_id) as (
      (select application_id from outbound_deliveries where status = 'pending'
        order by application_id limit 1)
      union all
      select (select d.application_id from outbound_deliveries d
               where d.status = 'pending' and d.application_id > apps.application_id
               order by d.application_id limit 1)
        from apps where apps.application_id is not null
    ),
    picked as (
      select p.id from apps cross join lateral (
        select d.id from outbound_deliveries d
         where d.application_id = apps.application_id and d.status = 'pending'
           and d.next_attempt_at <= now()
         order by d.next_attempt_at
         limit ${opts.perApplication}
         for update skip locked
      ) p
      where apps.application_id is not null
        and apps.application_id not in (select json_array_elements_text(${JSON.stringify(opts.exclude)}::json))
      limit ${opts.limit}
    )
    update outbound_deliveries o
       set next_attempt_at = now() + ${opts.leaseMs} * interval '1 millisecond', claims = o.claims + 1
      from picked where o.id = picked.id
    returning o.id, o.application_id, o.kind, o.url, o.body_encrypted, o.account_id, o.code_scope, o.attempts,
              o.claims`);
  return rows.map((r) => ({
    id: r.id,
    applicationId: r.application_id,
    kind: r.kind,
    url: r.url,
    bodyEncrypted: r.body_encrypted,
    accountId: r.account_id,
    codeScope: r.code_scope,
    attempts: r.attempts,
    claims: r.claims,
  }));
}

/** Of these Accounts, the ones still active under a Service Account that is not revoked. */
export async function liveAccountIds(db: DbOrTx, accountIds: string[]): Promise<Set<string>> {
  if (accountIds.length === 0) {
    return new Set();
  }
  const rows = await db
    .select({ id: accounts.id })
    .from(accounts)
    .innerJoin(serviceAccounts, eq(serviceAccounts.id, accounts.serviceAccountId))
    .where(
      and(
        inArray(accounts.id, accountIds),
        eq(accounts.status, 'active'),
        sql`${serviceAccounts.status} <> 'revoked'`,
      ),
    );
  return new Set(rows.map((r) => r.id));
}

/** Expires the unredeemed codes earlier attempts of these deliveries carried. */
export async function expireDeliveryCodes(db: DbOrTx, deliveryIds: string[]): Promise<void> {
  if (deliveryIds.length > 0) {
    await db
      .update(authorizationCodes)
      .set({ expiresAt: sql`now()` })
      .where(
        and(
          inArray(authorizationCodes.deliveryId, deliveryIds),
          sql`${authorizationCodes.usedAt} is null`,
          sql`${authorizationCodes.expiresAt} > now()`,
        ),
      );
  }
}

/** Marks pending deliveries cancelled (their Account or Service Account was revoked): never sent. */
export async function cancelDeliveries(db: DbOrTx, ids: string[], reason: string): Promise<void> {
  if (ids.length > 0) {
    await db
      .update(outboundDeliveries)
      .set({ status: 'cancelled', lastError: reason, nextAttemptAt: null })
      .where(and(inArray(outboundDeliveries.id, ids), eq(outboundDeliveries.status, 'pending')));
  }
}

export type AttemptRecord =
  | { id: string; attempts: number; status: 'delivered'; statusCode: number }
  | {
      id: string;
      attempts: number;
      status: 'pending';
      statusCode: number | null;
      error: string;
      nextAttemptAt: Date;
    }
  | { id: string; attempts: number; status: 'dead'; statusCode: number | null; error: string };

/**
 * Records many attempts' outcomes in one statement. Only a delivery still pending with the attempt
 * count the attempt started from changes, so an outcome recorded twice counts once.
 */
export async function recordAttempts(db: DbOrTx, records: AttemptRecord[]): Promise<void> {
  if (records.length === 0) {
    return;
  }
  const rows = records.map((r) => ({
    id: r.id,
    attempts: r.attempts,
    status: r.status,
    status_code: r.statusCode,
    error: r.status === 'delivered' ? null : r.error,
    next_attempt_at: r.status === 'pending' ? r.nextAttemptAt.toISOString() : null,
  }));
  await db.execute(sql`
    update outbound_deliveries o set
      attempts = o.attempts + 1,
      status = r.status,
      last_status_code = r.status_code,
      last_error = r.error,
      next_attempt_at = r.next_attempt_at,
      delivered_at = case when r.status = 'delivered' then now() end,
      dead_at = case when r.status = 'dead' then now() end,
      updated_at = now()
    from json_to_recordset(${JSON.stringify(rows)}::json)
      as r(id text, attempts int, status text, status_code int, error text, next_attempt_at timestamptz)
    where o.id = r.id and o.status = 'pending' and o.attempts = r.attempts`);
}

/** Puts a dead delivery back in the outbox (admin retry): due now, with its attempt count kept. */
export async function reviveDelivery(db: DbOrTx, id: string): Promise<boolean> {
  const rows = await db
    .update(outboundDeliveries)
    .set({ status: 'pending', deadAt: null, nextAttemptAt: new Date() })
    .where(and(eq(outboundDeliveries.id, id), eq(outboundDeliveries.status, 'dead')))
    .returning({ id: outboundDeliveries.id });
  return rows.length > 0;
}

/** Callbacks of a run not sent yet (or being retried): what the app is still waiting for. */
export async function countPendingCallbacks(db: DbOrTx, runId: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(outboundDeliveries)
    .where(and(eq(outboundDeliveries.runId, runId), eq(outboundDeliveries.status, 'pending')));
  return row?.n ?? 0;
}

/** The outbox at a glance: pending and due now, pending for later (retries, attempts in flight), dead. */
export async function outboxCounts(db: DbOrTx): Promise<{ due: number; later: number; dead: number }> {
  const [row] = await db.execute<{ due: number; later: number; dead: number }>(sql`
    select count(*) filter (where status = 'pending' and next_attempt_at <= now())::int as due,
           count(*) filter (where status = 'pending' and next_attempt_at > now())::int as later,
           count(*) filter (where status = 'dead')::int as dead
      from outbound_deliveries where status in ('pending', 'dead')`);
  return { due: row?.due ?? 0, later: row?.later ?? 0, dead: row?.dead ?? 0 };
}
