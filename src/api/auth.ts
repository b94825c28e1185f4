import type { FastifyRequest } from 'fastify';
import { findAccountView } from '../db/queries/accounts.js';
import { findServiceAccount } from '../db/queries/service-accounts.js';
import type { Application } from '../db/schema/applications.js';
import type { ServiceAccount } from '../db/schema/service-accounts.js';
import type { Token } from '../db/schema/tokens.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { authenticateClientSecret } from '../services/applications.js';
import type { AppContext } from '../services/context.js';
import { authenticateAccessToken } from '../services/tokens.js';

/**
 * Three kinds of caller (DESIGN §6): an Application (`Bearer <client_secret>`), a Service Account
 * (`Bearer <service account access token>`) and an Account (`Bearer <account access token>`).
 */
export function bearerOf(req: FastifyRequest): string {
  const header = req.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match?.[1]) {
    throw new UnauthorizedError('An Authorization: Bearer header is required');
  }
  return match[1];
}

export async function requireApplication(app: AppContext, req: FastifyRequest): Promise<Application> {
  const found = await authenticateClientSecret(app, bearerOf(req));
  if (!found) {
    throw new UnauthorizedError('Unknown client secret');
  }
  return found;
}

export type ServiceAccountCaller = { token: Token; serviceAccount: ServiceAccount };

export async function requireServiceAccountToken(
  app: AppContext,
  req: FastifyRequest,
): Promise<ServiceAccountCaller> {
  const { token, subject } = await authenticateAccessToken(app.db, bearerOf(req));
  if (subject.type !== 'service_account') {
    throw new ForbiddenError('This endpoint needs a Service Account token');
  }
  const serviceAccount = await findServiceAccount(app.db, subject.serviceAccountId);
  if (
    !serviceAccount ||
    serviceAccount.status === 'revoked' ||
    serviceAccount.applicationId !== token.applicationId
  ) {
    throw new UnauthorizedError('The Service Account was revoked');
  }
  return { token, serviceAccount };
}

export type AccountCaller = { token: Token; accountId: string };

export async function requireAccountToken(app: AppContext, req: FastifyRequest): Promise<AccountCaller> {
  const { token, subject } = await authenticateAccessToken(app.db, bearerOf(req));
  if (subject.type !== 'account') {
    throw new ForbiddenError('This endpoint needs an Account token');
  }
  const view = await findAccountView(app.db, subject.accountId);
  if (view?.account.status !== 'active' || view.account.applicationId !== token.applicationId) {
    throw new UnauthorizedError('The Account was revoked');
  }
  return { token, accountId: subject.accountId };
}

type Callers = { application: Application; service_account: ServiceAccountCaller; account: AccountCaller };
export type CallerKind = keyof Callers;

const callers = new WeakMap<FastifyRequest, Partial<Callers>>();

/**
 * A `preParsing` hook authenticating the caller before the body is parsed or validated, so an
 * unauthenticated request always gets 401, never a 422 about its body. (After `onRequest`, where
 * the rate limiter runs, so failed attempts are rate limited too.)
 */
export function authenticate(app: AppContext, kind: CallerKind): (req: FastifyRequest) => Promise<void> {
  return async (req: FastifyRequest) => {
    const found: Partial<Callers> = {};
    if (kind === 'application') {
      found.application = await requireApplication(app, req);
    } else if (kind === 'service_account') {
      found.service_account = await requireServiceAccountToken(app, req);
    } else {
      found.account = await requireAccountToken(app, req);
    }
    callers.set(req, found);
  };
}

/**
 * Like `authenticate`, for routes that take either an Account token or a Service Account token
 * (`GET /v1/userinfo`): whichever the bearer is.
 */
export function authenticateToken(app: AppContext): (req: FastifyRequest) => Promise<void> {
  return async (req: FastifyRequest) => {
    const { subject } = await authenticateAccessToken(app.db, bearerOf(req));
    const found: Partial<Callers> =
      subject.type === 'account'
        ? { account: await requireAccountToken(app, req) }
        : { service_account: await requireServiceAccountToken(app, req) };
    callers.set(req, found);
  };
}

/** The caller, if an authentication hook established one of this kind. */
export function maybeCallerOf<K extends CallerKind>(req: FastifyRequest, kind: K): Callers[K] | undefined {
  return callers.get(req)?.[kind] as Callers[K] | undefined;
}

/** The caller an `authenticate(app, kind)` hook established for this request. */
export function callerOf<K extends CallerKind>(req: FastifyRequest, kind: K): Callers[K] {
  const found = callers.get(req)?.[kind];
  if (!found) {
    throw new UnauthorizedError();
  }
  return found as Callers[K];
}
