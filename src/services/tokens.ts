import type { Db, DbOrTx } from '../db/client.js';
import { preparedFor } from '../db/prepared.js';
import { type AccountView, findAccountView } from '../db/queries/accounts.js';
import { findApplicationBySecretHash } from '../db/queries/applications.js';
import { findServiceAccount } from '../db/queries/service-accounts.js';
import {
  type CodeRedemption,
  findLiveAccessTokens,
  findLiveToken,
  findTokenForApplication,
  insertAuthorizationCode,
  insertTokens,
  redeemAuthorizationCodes,
  revokeGrant,
  revokeSubjectTokens,
} from '../db/queries/tokens.js';
import type { Application } from '../db/schema/applications.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import type { Token, TokenSubject } from '../db/schema/tokens.js';
import { ForbiddenError, OAuthError, UnauthorizedError } from '../errors.js';
import { hashToken, type Keyring, newOpaqueToken } from '../lib/crypto.js';
import { newId } from '../lib/ids.js';
import { microBatcher } from '../lib/micro-batch.js';
import { providerNames, revokeAccount } from './accounts.js';

export type { Token };

/** Access token lifetimes, as Cronofy issues them: Service Account tokens live shorter. */
export const ACCOUNT_TOKEN_TTL_SECS = 3_600;
export const SERVICE_ACCOUNT_TOKEN_TTL_SECS = 1_800;
/** Authorization codes: single use, 10 minutes. */
export const CODE_TTL_SECS = 600;

export type Subject =
  | { type: 'account'; accountId: string }
  | { type: 'service_account'; serviceAccountId: string };

const subjectColumns = (s: Subject) =>
  s.type === 'account'
    ? { subjectType: 'account' as TokenSubject, accountId: s.accountId, serviceAccountId: null }
    : {
        subjectType: 'service_account' as TokenSubject,
        accountId: null,
        serviceAccountId: s.serviceAccountId,
      };

const ttlFor = (s: Subject) =>
  s.type === 'account' ? ACCOUNT_TOKEN_TTL_SECS : SERVICE_ACCOUNT_TOKEN_TTL_SECS;

export type TokenPair = { accessToken: string; refreshToken: string; expiresIn: number; scope: string };

/** Mints an access + refresh token pair (one grant) for a subject; stores only their hashes. */
export async function mintTokenPair(
  db: DbOrTx,
  applicationId: string,
  subject: Subject,
  scope: string,
): Promise<TokenPair> {
  const accessToken = newOpaqueToken();
  const refreshToken = newOpaqueToken();
  const grantId = newId('token');
  const expiresIn = ttlFor(subject);
  const base = { applicationId, grantId, scope, ...subjectColumns(subject) };
  await insertTokens(db, [
    {
      id: newId('token'),
      kind: 'access',
      tokenHash: hashToken(accessToken),
      expiresAt: new Date(Date.now() + expiresIn * 1000),
      ...base,
    },
    { id: newId('token'), kind: 'refresh', tokenHash: hashToken(refreshToken), expiresAt: null, ...base },
  ]);
  return { accessToken, refreshToken, expiresIn, scope };
}

/** Mints a single-use authorization code bound to `redirectUri`; stores only its hash. */
export async function mintAuthorizationCode(
  db: DbOrTx,
  input: { applicationId: string; subject: Subject; redirectUri: string; scope: string },
): Promise<string> {
  const code = newOpaqueToken();
  await insertAuthorizationCode(db, {
    id: newId('code'),
    applicationId: input.applicationId,
    codeHash: hashToken(code),
    redirectUri: input.redirectUri,
    scope: input.scope,
    expiresAt: new Date(Date.now() + CODE_TTL_SECS * 1000),
    ...subjectColumns(input.subject),
  });
  return code;
}

/** Longer than any client id or secret we issue: such values are never looked up. */
const isLookupSized = (clientId: string, clientSecret: string) =>
  clientId.length <= 512 && clientSecret.length <= 512;

/** The token endpoint's client authentication: client_id and client_secret in the body. */
export async function authenticateClient(
  deps: { db: Db; keyring: Keyring },
  clientId: string | undefined,
  clientSecret: string | undefined,
): Promise<Application> {
  if (!clientId || !clientSecret) {
    throw new OAuthError('invalid_client', 'client_id and client_secret are required');
  }
  const app = isLookupSized(clientId, clientSecret)
    ? await findApplicationBySecretHash(deps.db, hashToken(clientSecret), clientId)
    : undefined;
  if (!app) {
    throw new OAuthError('invalid_client', 'Unknown client or wrong secret');
  }
  return app;
}

/** The token endpoint's answer (Cronofy's field names); the route's response schema mirrors it. */
export type TokenResponse = {
  token_type: 'bearer';
  access_token: string;
  expires_in: number;
  refresh_token: string;
  scope: string;
  sub: string;
  service_account_id?: string;
  account_id?: string;
  linking_profile?:
    | { provider_name: string; provider_service: string; profile_id: string; profile_name: string }
    | undefined;
};

/** The token endpoint's answer in Cronofy's shape; `profile` is the Account's (its `linking_profile`). */
function responseFor(
  subject: Subject,
  pair: TokenPair,
  profile: { id: string; provider: string; profileName: string } | undefined,
): TokenResponse {
  const base = {
    token_type: 'bearer' as const,
    access_token: pair.accessToken,
    expires_in: pair.expiresIn,
    refresh_token: pair.refreshToken,
    scope: pair.scope,
  };
  // Object.assign rather than a leading `...base`: see accountViews (services/accounts.ts).
  if (subject.type === 'service_account') {
    return Object.assign(base, {
      service_account_id: subject.serviceAccountId,
      sub: subject.serviceAccountId,
    });
  }
  return Object.assign(base, {
    account_id: subject.accountId,
    sub: subject.accountId,
    linking_profile: profile
      ? Object.assign(providerNames(profile.provider), {
          profile_id: profile.id,
          profile_name: profile.profileName,
        })
      : undefined,
  });
}

function subjectOf(row: {
  subjectType: TokenSubject;
  accountId: string | null;
  serviceAccountId: string | null;
}): Subject {
  if (row.subjectType === 'account' && row.accountId) {
    return { type: 'account', accountId: row.accountId };
  }
  if (row.subjectType === 'service_account' && row.serviceAccountId) {
    return { type: 'service_account', serviceAccountId: row.serviceAccountId };
  }
  throw new Error('token row without subject');
}

/**
 * Whether the subject still exists and is not revoked; for a live Account, also its Profile (the
 * token response's `linking_profile`).
 */
async function liveSubject(
  db: Db,
  subject: Subject,
): Promise<{ profile?: { id: string; provider: string; profileName: string } } | undefined> {
  if (subject.type === 'account') {
    const view = await findAccountView(db, subject.accountId);
    return view?.account.status === 'active' ? { profile: view.profile } : undefined;
  }
  const sa = await findServiceAccount(db, subject.serviceAccountId);
  return sa !== undefined && sa.status !== 'revoked' ? {} : undefined;
}

/** Redemptions per statement at most, and statements running at once (of the pool's connections). */
const REDEEM_BATCH = 64;
const REDEEMS_IN_FLIGHT = 4;
/** Token lookups per statement at most, and statements running at once. */
const TOKEN_READ_BATCH = 64;
const TOKEN_READS_IN_FLIGHT = 4;

/**
 * The process's code redemptions on this database, batched: the codes that arrive while earlier
 * statements run are redeemed together, in one statement and one commit (lib/micro-batch.ts). An app
 * redeeming a run's callbacks sends dozens at once; each costs Postgres a fraction of a statement
 * of its own, and the API one round trip for all. One batcher per database handle (`preparedFor`).
 */
const codeRedeemerOf = preparedFor((db) =>
  microBatcher({
    run: (inputs: CodeRedemption[]) =>
      redeemAuthorizationCodes(db, inputs, {
        account: ACCOUNT_TOKEN_TTL_SECS,
        serviceAccount: SERVICE_ACCOUNT_TOKEN_TTL_SECS,
      }),
    maxBatch: REDEEM_BATCH,
    maxInFlight: REDEEMS_IN_FLIGHT,
  }),
);

/**
 * `grant_type=authorization_code`: a single-use code, redeemed with the exact redirect_uri it was
 * issued for, while its Account (or Service Account) is live — in one statement (see
 * `redeemAuthorizationCode`). A used, expired, unknown or mismatched code issues nothing and, when
 * merely mismatched, stays usable.
 */
export async function exchangeCode(
  deps: { db: Db; keyring: Keyring },
  client: { clientId: string | undefined; clientSecret: string | undefined },
  code: string | undefined,
  redirectUri: string | undefined,
): Promise<TokenResponse> {
  const { clientId, clientSecret } = client;
  if (!code || !redirectUri || !clientId || !clientSecret || !isLookupSized(clientId, clientSecret)) {
    // A wrong client is named before a missing field, as when the client is authenticated first.
    await authenticateClient(deps, clientId, clientSecret);
    throw new OAuthError('invalid_request', 'code and redirect_uri are required');
  }
  const accessToken = newOpaqueToken();
  const refreshToken = newOpaqueToken();
  const row = await codeRedeemerOf(deps.db)({
    codeHash: hashToken(code),
    client: { id: clientId, secretHash: hashToken(clientSecret) },
    redirectUri,
    grantId: newId('token'),
    access: { id: newId('token'), hash: hashToken(accessToken) },
    refresh: { id: newId('token'), hash: hashToken(refreshToken) },
  });
  if (!row) {
    // Nothing redeemed: a wrong client (invalid_client) or a code that is not live (invalid_grant).
    await authenticateClient(deps, clientId, clientSecret);
    throw new OAuthError('invalid_grant', 'errors.unknown_or_used');
  }
  const subject = subjectOf(row);
  const pair = { accessToken, refreshToken, expiresIn: row.expiresIn, scope: row.scope };
  return responseFor(subject, pair, row.profile ?? undefined);
}

/** `grant_type=refresh_token`: a new access token; the refresh token stays the same. */
export async function refreshAccessToken(
  deps: { db: Db },
  application: Application,
  refreshToken: string | undefined,
): Promise<TokenResponse> {
  if (!refreshToken) {
    throw new OAuthError('invalid_request', 'refresh_token is required');
  }
  const row = await findLiveToken(deps.db, hashToken(refreshToken), 'refresh');
  if (!row || row.applicationId !== application.id) {
    throw new OAuthError('invalid_grant', 'Unknown or revoked refresh token');
  }
  const subject = subjectOf(row);
  const live = await liveSubject(deps.db, subject);
  if (!live) {
    throw new OAuthError('invalid_grant', 'The authorization was revoked');
  }
  const accessToken = newOpaqueToken();
  const expiresIn = ttlFor(subject);
  await insertTokens(deps.db, [
    {
      id: newId('token'),
      applicationId: application.id,
      kind: 'access',
      grantId: row.grantId,
      tokenHash: hashToken(accessToken),
      scope: row.scope,
      expiresAt: new Date(Date.now() + expiresIn * 1000),
      ...subjectColumns(subject),
    },
  ]);
  return responseFor(subject, { accessToken, refreshToken, expiresIn, scope: row.scope }, live.profile);
}

/**
 * RFC 7009 revocation: a token revokes its whole grant; `sub` revokes every token of that Account
 * (and the Account itself) or Service Account. Unknown values are not an error.
 */
export async function revoke(
  deps: { db: Db },
  application: Application,
  input: { token?: string | undefined; sub?: string | undefined },
): Promise<void> {
  if (input.token) {
    const row = await findTokenForApplication(deps.db, hashToken(input.token), application.id);
    if (row) {
      await revokeGrant(deps.db, row.grantId);
    }
    return;
  }
  if (!input.sub) {
    throw new OAuthError('invalid_request', 'token or sub is required');
  }
  if (input.sub.startsWith('acc_')) {
    await revokeAccount(deps.db, application.id, input.sub);
  } else if (input.sub.startsWith('ser_')) {
    await revokeSubjectTokens(deps.db, application.id, { serviceAccountId: input.sub });
  }
}

/** A live access token, its subject, and for an Account's token the Account as read with it. */
export type Bearer = { token: Token; subject: Subject; view?: AccountView | undefined };

/**
 * The process's access-token lookups on this database, batched as code redemptions are: the bearers
 * of requests that arrive while earlier lookups run are read in one statement. Every authenticated
 * request makes one; a primary-key read costs Postgres less than the statement around it, and the
 * API a round trip of its own.
 */
const accessTokenReaderOf = preparedFor((db) =>
  microBatcher({
    run: (hashes: string[]) => findLiveAccessTokens(db, hashes),
    maxBatch: TOKEN_READ_BATCH,
    maxInFlight: TOKEN_READS_IN_FLIGHT,
  }),
);

/** Resolves `Authorization: Bearer <access token>` to its live token and subject. */
export async function authenticateAccessToken(db: Db, accessToken: string): Promise<Bearer> {
  if (accessToken.length === 0 || accessToken.length > 512) {
    throw new UnauthorizedError();
  }
  const row = await accessTokenReaderOf(db)(hashToken(accessToken));
  if (!row) {
    throw new UnauthorizedError('The access token is unknown, expired or revoked');
  }
  const { token, account, profile, calendars } = row;
  return {
    token,
    subject: subjectOf(token),
    view: account && profile ? { account, profile, calendars } : undefined,
  };
}

/** A Service Account token and its Service Account (active or broken, of the token's Application). */
export type ServiceAccountBearer = { token: Token; serviceAccount: ServiceAccount };

/**
 * An access token that must be a Service Account's: 403 for another kind of token, 401 once the
 * Service Account is revoked (or belongs to another Application).
 */
export async function authenticateServiceAccountToken(
  db: Db,
  accessToken: string,
): Promise<ServiceAccountBearer> {
  return serviceAccountBearerOf(db, await authenticateAccessToken(db, accessToken));
}

/** `authenticateServiceAccountToken` for a token already looked up. */
export async function serviceAccountBearerOf(
  db: Db,
  { token, subject }: Bearer,
): Promise<ServiceAccountBearer> {
  if (subject.type !== 'service_account') {
    throw new ForbiddenError('This endpoint needs a Service Account token');
  }
  const serviceAccount = await findServiceAccount(db, subject.serviceAccountId);
  if (
    !serviceAccount ||
    serviceAccount.status === 'revoked' ||
    serviceAccount.applicationId !== token.applicationId
  ) {
    throw new UnauthorizedError('The Service Account was revoked');
  }
  return { token, serviceAccount };
}

/** An Account token, its Account's id, and the Account with its Profile as read to check the token. */
export type AccountBearer = { token: Token; accountId: string; view: AccountView };

/** An access token that must be an Account's: 403 for another kind, 401 once the Account is revoked. */
export async function authenticateAccountToken(db: Db, accessToken: string): Promise<AccountBearer> {
  return accountBearerOf(db, await authenticateAccessToken(db, accessToken));
}

/** `authenticateAccountToken` for a token already looked up. */
export async function accountBearerOf(
  db: Db,
  { token, subject, view: read }: Bearer,
): Promise<AccountBearer> {
  if (subject.type !== 'account') {
    throw new ForbiddenError('This endpoint needs an Account token');
  }
  const view = read?.account.id === subject.accountId ? read : await findAccountView(db, subject.accountId);
  if (view?.account.status !== 'active' || view.account.applicationId !== token.applicationId) {
    throw new UnauthorizedError('The Account was revoked');
  }
  return { token, accountId: subject.accountId, view };
}
