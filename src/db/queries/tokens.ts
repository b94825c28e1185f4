import { and, eq, gt, inArray, isNull, lt, or, type Placeholder, type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { preparedFor } from '../prepared.js';
import { type Account, accounts } from '../schema/accounts.js';
import { authorizationCodes } from '../schema/authorization-codes.js';
import { type Profile, profiles } from '../schema/profiles.js';
import { type Token, tokens } from '../schema/tokens.js';
import type { AccountCalendar } from './accounts.js';
import { jsonRecordset, jsonRows } from './json-rows.js';

export type NewToken = typeof tokens.$inferInsert;

export async function insertTokens(db: DbOrTx, rows: NewToken[]): Promise<void> {
  await db.insert(tokens).values(rows);
}

export type RedeemedCode = {
  subjectType: Token['subjectType'];
  accountId: string | null;
  serviceAccountId: string | null;
  scope: string;
  expiresIn: number;
  /** The Account's Profile, for the token response's `linking_profile`. */
  profile: { id: string; provider: string; profileName: string } | null;
};

/** One code to redeem: the client presenting it and the new grant's ids and token hashes. */
export type CodeRedemption = {
  codeHash: string;
  client: { id: string; secretHash: string };
  redirectUri: string;
  grantId: string;
  access: { id: string; hash: string };
  refresh: { id: string; hash: string };
};

/**
 * `grant_type=authorization_code` for many codes in one statement, client authentication included:
 * uses each code — only if its client is an Application holding an active secret with `secretHash`
 * and `clientId`, and the code is that Application's, unused, unexpired, issued for exactly
 * `redirectUri`, and its Account (or Service Account) is still live — and stores the access and
 * refresh token hashes of its new grant. Answers one result per input, in order: undefined where
 * nothing was redeemed (nothing changed for it); the caller tells a wrong client from a dead code
 * afterwards, on that path only. A code given twice is redeemed once (one update of its row).
 *
 * One round trip and one commit for all of them: at organization scale an app redeems thousands of
 * codes a minute, and the API sends the redemptions that arrive together as one statement
 * (services/tokens.ts).
 */
export async function redeemAuthorizationCodes(
  db: DbOrTx,
  inputs: readonly CodeRedemption[],
  ttlSecs: { account: number; serviceAccount: number },
): Promise<(RedeemedCode | undefined)[]> {
  const given = inputs.map((r, n) => ({
    n,
    code_hash: r.codeHash,
    client_id: r.client.id,
    secret_hash: r.client.secretHash,
    redirect_uri: r.redirectUri,
    grant_id: r.grantId,
    access_id: r.access.id,
    access_hash: r.access.hash,
    refresh_id: r.refresh.id,
    refresh_hash: r.refresh.hash,
  }));
  const rows = await db.execute<{
    n: number;
    subject_type: Token['subjectType'];
    account_id: string | null;
    service_account_id: string | null;
    scope: string;
    expires_in: number;
    profile_id: string | null;
    provider: string | null;
    profile_name: string | null;
  }>(sql`
    with i as (
      select * from ${jsonRecordset(given, {
        n: 'int',
        code_hash: 'text',
        client_id: 'text',
        secret_hash: 'text',
        redirect_uri: 'text',
        grant_id: 'text',
        access_id: 'text',
        access_hash: 'text',
        refresh_id: 'text',
        refresh_hash: 'text',
      })}
    ),
    client as (
      select i.n, a.id as application_id
        from i join application_secrets s on s.secret_hash = i.secret_hash and s.revoked_at is null
               join applications a on a.id = s.application_id and a.client_id = i.client_id
    ),
    used as (
      update authorization_codes c set used_at = now()
        from i join client k on k.n = i.n
       where c.code_hash = i.code_hash and c.application_id = k.application_id
         and c.used_at is null and c.expires_at > now() and c.redirect_uri = i.redirect_uri
         and case c.subject_type
               when 'account' then exists (
                 select 1 from accounts a join service_accounts s on s.id = a.service_account_id
                  where a.id = c.account_id and a.status = 'active' and s.status <> 'revoked')
               else exists (
                 select 1 from service_accounts s where s.id = c.service_account_id and s.status <> 'revoked')
             end
      returning i.n, i.grant_id, i.access_id, i.access_hash, i.refresh_id, i.refresh_hash,
                c.application_id, c.subject_type, c.account_id, c.service_account_id, c.scope,
                case c.subject_type when 'account' then ${ttlSecs.account}::int
                     else ${ttlSecs.serviceAccount}::int end as expires_in
    ),
    minted as (
      insert into tokens (id, application_id, kind, subject_type, account_id, service_account_id,
                          grant_id, token_hash, scope, expires_at)
      select v.id, u.application_id, v.kind, u.subject_type, u.account_id, u.service_account_id,
             u.grant_id, v.hash, u.scope,
             case when v.kind = 'access' then now() + u.expires_in * interval '1 second' end
        from used u cross join lateral (values (u.access_id, 'access', u.access_hash),
                                               (u.refresh_id, 'refresh', u.refresh_hash)) as v(id, kind, hash)
      returning id
    )
    select u.n, u.subject_type, u.account_id, u.service_account_id, u.scope, u.expires_in,
           p.id as profile_id, p.provider, p.profile_name, (select count(*) from minted) as minted
      from used u left join profiles p on p.account_id = u.account_id`);
  const out: (RedeemedCode | undefined)[] = inputs.map(() => undefined);
  for (const row of rows) {
    out[Number(row.n)] = {
      subjectType: row.subject_type,
      accountId: row.account_id,
      serviceAccountId: row.service_account_id,
      scope: row.scope,
      expiresIn: Number(row.expires_in),
      profile:
        row.profile_id && row.provider
          ? { id: row.profile_id, provider: row.provider, profileName: row.profile_name ?? '' }
          : null,
    };
  }
  return out;
}

/** The token with the `hash` placeholder's hash (or one matching `byHash`), of `kind`, neither revoked nor expired. */
const liveTokenWhere = (
  kind: Token['kind'] | Placeholder,
  byHash: SQL = eq(tokens.tokenHash, sql.placeholder('hash')),
) =>
  and(
    byHash,
    eq(tokens.kind, kind),
    isNull(tokens.revokedAt),
    or(isNull(tokens.expiresAt), gt(tokens.expiresAt, sql`now()`)),
  );

const liveToken = preparedFor((db) =>
  db
    .select()
    .from(tokens)
    .where(liveTokenWhere(sql.placeholder('kind')))
    .prepare('find_live_token'),
);

/** An unrevoked, unexpired token with this hash, of this kind. */
export async function findLiveToken(
  db: DbOrTx,
  tokenHash: string,
  kind: Token['kind'],
): Promise<Token | undefined> {
  const [row] = await liveToken(db).execute({ hash: tokenHash, kind });
  return row;
}

/** The Account's live Calendars, in listCalendars' order, as one JSON array (empty for none). */
const liveCalendarsJson = sql<AccountCalendar[]>`(
  select coalesce(json_agg(json_build_object('id', c.id, 'name', c.name, 'readonly', c.readonly,
                                             'primary', c.is_primary)
                           order by c.is_primary desc, c.name, c.id), '[]'::json)
    from calendars c where c.account_id = ${tokens.accountId} and c.deleted_at is null)`.mapWith(
  (v: unknown): AccountCalendar[] => (typeof v === 'string' ? JSON.parse(v) : v) as AccountCalendar[],
);

/** A live access token with its Account, Profile and live Calendars (null Account and Profile for a Service Account's). */
export type LiveAccessToken = {
  token: Token;
  account: Account | null;
  profile: Profile | null;
  calendars: AccountCalendar[];
};

const liveAccessTokens = preparedFor((db) =>
  db
    .select({ token: tokens, account: accounts, profile: profiles, calendars: liveCalendarsJson })
    .from(tokens)
    .leftJoin(accounts, eq(accounts.id, tokens.accountId))
    .leftJoin(profiles, eq(profiles.accountId, tokens.accountId))
    .where(liveTokenWhere('access', sql`${tokens.tokenHash} = any(${sql.placeholder('hashes')}::text[])`))
    .prepare('find_live_access_tokens'),
);

/**
 * Live access tokens by hash and, for an Account's, its Account, Profile and live Calendars as they
 * are now: what every Account-token request needs (`/v1/userinfo` shows all of it). One statement for
 * many requests' bearers (services/tokens.ts batches them); one answer per hash, in order.
 */
export async function findLiveAccessTokens(
  db: DbOrTx,
  tokenHashes: readonly string[],
): Promise<(LiveAccessToken | undefined)[]> {
  const rows = await liveAccessTokens(db).execute({ hashes: [...new Set(tokenHashes)] });
  const byHash = new Map(rows.map((r) => [r.token.tokenHash, r]));
  return tokenHashes.map((h) => byHash.get(h));
}

/** Any token with this hash (live or not), scoped to an Application. */
export async function findTokenForApplication(
  db: DbOrTx,
  tokenHash: string,
  applicationId: string,
): Promise<Token | undefined> {
  const [row] = await db
    .select()
    .from(tokens)
    .where(and(eq(tokens.tokenHash, tokenHash), eq(tokens.applicationId, applicationId)));
  return row;
}

export async function revokeGrant(db: DbOrTx, grantId: string): Promise<number> {
  const rows = await db
    .update(tokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(tokens.grantId, grantId), isNull(tokens.revokedAt)))
    .returning({ id: tokens.id });
  return rows.length;
}

/** Revokes every token of a subject (Account or Service Account) within one Application. */
export async function revokeSubjectTokens(
  db: DbOrTx,
  applicationId: string,
  subject: { accountId: string } | { serviceAccountId: string },
): Promise<number> {
  const match =
    'accountId' in subject
      ? eq(tokens.accountId, subject.accountId)
      : eq(tokens.serviceAccountId, subject.serviceAccountId);
  const rows = await db
    .update(tokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(tokens.applicationId, applicationId), match, isNull(tokens.revokedAt)))
    .returning({ id: tokens.id });
  return rows.length;
}

export type NewAuthorizationCode = typeof authorizationCodes.$inferInsert;

export async function insertAuthorizationCode(db: DbOrTx, row: NewAuthorizationCode): Promise<void> {
  await db.insert(authorizationCodes).values(row);
}

/** Deletes expired codes and tokens that expired or were revoked more than `graceSecs` ago. */
export async function deleteExpired(
  db: DbOrTx,
  graceSecs: number,
): Promise<{ codes: number; tokens: number }> {
  const cutoff = new Date(Date.now() - graceSecs * 1000);
  const codes = await db
    .delete(authorizationCodes)
    .where(lt(authorizationCodes.expiresAt, cutoff))
    .returning({ id: authorizationCodes.id });
  const dead = await db
    .delete(tokens)
    .where(or(lt(tokens.expiresAt, cutoff), lt(tokens.revokedAt, cutoff)))
    .returning({ id: tokens.id });
  return { codes: codes.length, tokens: dead.length };
}

/** Revokes the tokens of every Account under a Service Account. */
export async function revokeAccountTokensOfServiceAccount(
  db: DbOrTx,
  serviceAccountId: string,
): Promise<number> {
  const rows = await db
    .update(tokens)
    .set({ revokedAt: new Date() })
    .where(
      and(
        isNull(tokens.revokedAt),
        inArray(
          tokens.accountId,
          db
            .select({ id: accounts.id })
            .from(accounts)
            .where(eq(accounts.serviceAccountId, serviceAccountId)),
        ),
      ),
    )
    .returning({ id: tokens.id });
  return rows.length;
}

/**
 * One batch of cleanup: deletes up to `limit` authorization codes that expired before `cutoff`, and
 * up to `limit` tokens that expired or were revoked before it. Short statements, so a large backlog
 * never holds long locks; call again while a batch comes back full.
 */
export async function deleteExpiredBatch(
  db: DbOrTx,
  cutoff: Date,
  limit: number,
): Promise<{ codes: number; tokens: number }> {
  const codes = await db
    .delete(authorizationCodes)
    .where(
      inArray(
        authorizationCodes.id,
        db
          .select({ id: authorizationCodes.id })
          .from(authorizationCodes)
          .where(lt(authorizationCodes.expiresAt, cutoff))
          .limit(limit),
      ),
    )
    .returning({ id: authorizationCodes.id });
  const dead = await db
    .delete(tokens)
    .where(
      inArray(
        tokens.id,
        db
          .select({ id: tokens.id })
          .from(tokens)
          .where(or(lt(tokens.expiresAt, cutoff), lt(tokens.revokedAt, cutoff)))
          .limit(limit),
      ),
    )
    .returning({ id: tokens.id });
  return { codes: codes.length, tokens: dead.length };
}

/** Many codes in one statement (the delivery pump mints one per attempt). */
export async function insertAuthorizationCodes(db: DbOrTx, rows: NewAuthorizationCode[]): Promise<void> {
  if (rows.length > 0) {
    await db.execute(
      sql`insert into authorization_codes ${jsonRows(
        rows.map((r) => ({
          id: r.id,
          application_id: r.applicationId,
          code_hash: r.codeHash,
          subject_type: r.subjectType,
          account_id: r.accountId ?? null,
          service_account_id: r.serviceAccountId ?? null,
          redirect_uri: r.redirectUri,
          scope: r.scope,
          expires_at: r.expiresAt,
          delivery_id: r.deliveryId ?? null,
        })),
        {
          id: 'text',
          application_id: 'text',
          code_hash: 'text',
          subject_type: 'text',
          account_id: 'text',
          service_account_id: 'text',
          redirect_uri: 'text',
          scope: 'text',
          expires_at: 'timestamptz',
          delivery_id: 'text',
        },
      )}`,
    );
  }
}
