import type { FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../errors.js';
import { type Application, authenticateClientSecret } from '../services/applications.js';
import type { AppContext } from '../services/context.js';
import {
  type AccountBearer,
  accountBearerOf,
  authenticateAccessToken,
  authenticateAccountToken,
  authenticateServiceAccountToken,
  type ServiceAccountBearer,
  serviceAccountBearerOf,
} from '../services/tokens.js';

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

export type ServiceAccountCaller = ServiceAccountBearer;

export function requireServiceAccountToken(
  app: AppContext,
  req: FastifyRequest,
): Promise<ServiceAccountCaller> {
  return authenticateServiceAccountToken(app.db, bearerOf(req));
}

export type AccountCaller = AccountBearer;

export function requireAccountToken(app: AppContext, req: FastifyRequest): Promise<AccountCaller> {
  return authenticateAccountToken(app.db, bearerOf(req));
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
    // One token lookup: the bearer found is checked as the kind it is.
    const bearer = await authenticateAccessToken(app.db, bearerOf(req));
    const found: Partial<Callers> =
      bearer.subject.type === 'account'
        ? { account: await accountBearerOf(app.db, bearer) }
        : { service_account: await serviceAccountBearerOf(app.db, bearer) };
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
