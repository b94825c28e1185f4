import type { Db, DbOrTx } from '../db/client.js';
import {
  findApplicationByClientId,
  findApplicationBySecretHash,
  insertApplication,
  insertApplicationSecret,
  listActiveSecrets,
  revokeSecretsExcept,
  updateApplicationRateLimit,
  updateApplicationRedirectUris,
} from '../db/queries/applications.js';
import { insertAuditEvent } from '../db/queries/audit-events.js';
import { aadOf } from '../db/queries/encrypted-columns.js';
import type { Application } from '../db/schema/applications.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { hashToken, type Keyring, newOpaqueToken } from '../lib/crypto.js';
import { newId } from '../lib/ids.js';

export type { Application };

export type ApplicationsDeps = { db: Db; keyring: Keyring };

export type CreatedApplication = { application: Application; clientId: string; clientSecret: string };

/** Redirect URIs must be absolute http(s) URLs without a fragment (RFC 6749 §3.1.2). */
export function validateRedirectUris(uris: readonly string[]): string[] {
  const problems: string[] = [];
  const out: string[] = [];
  for (const raw of uris) {
    let url: URL | undefined;
    try {
      url = new URL(raw);
    } catch {
      problems.push(`"${raw}" is not an absolute URL`);
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      problems.push(`"${raw}" must use http or https`);
    } else if (url.hash) {
      problems.push(`"${raw}" must not contain a fragment`);
    } else if (!out.includes(raw)) {
      out.push(raw);
    }
  }
  if (problems.length > 0) {
    throw new ValidationError(`Invalid redirect URI: ${problems.join('; ')}`, { redirect_uri: problems });
  }
  return out;
}

async function addSecret(deps: ApplicationsDeps, db: DbOrTx, applicationId: string) {
  const secret = newOpaqueToken(32);
  const id = newId('token');
  await insertApplicationSecret(db, {
    id,
    applicationId,
    secretHash: hashToken(secret),
    secretEncrypted: deps.keyring.encrypt(secret, aadOf('application_secrets', id)),
  });
  return { id, secret };
}

/** Creates an Application with one client secret. The secret is returned once and stored only hashed + encrypted. */
export async function createApplication(
  deps: ApplicationsDeps,
  input: { name: string; redirectUris: readonly string[]; actor: string },
): Promise<CreatedApplication> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200) {
    throw new ValidationError('Application name must be 1 to 200 characters', { name: ['length'] });
  }
  const redirectUris = validateRedirectUris(input.redirectUris);
  return deps.db.transaction(async (tx) => {
    const application = await insertApplication(tx, {
      id: newId('application'),
      name,
      clientId: newOpaqueToken(24),
      redirectUris,
    });
    const { secret } = await addSecret(deps, tx, application.id);
    await insertAuditEvent(tx, {
      id: newId('audit'),
      applicationId: application.id,
      actor: input.actor,
      action: 'application.created',
      subjectType: 'application',
      subjectId: application.id,
      data: { name, redirectUris },
    });
    return { application, clientId: application.clientId, clientSecret: secret };
  });
}

async function requireByClientId(db: Db, clientId: string): Promise<Application> {
  const app = await findApplicationByClientId(db, clientId);
  if (!app) {
    throw new NotFoundError('Application with client_id', clientId);
  }
  return app;
}

/**
 * Adds a new client secret. The previous ones stay valid (for requests and signatures) until
 * `removeOldSecrets`, so clients can switch without downtime.
 */
export async function rotateSecret(
  deps: ApplicationsDeps,
  input: { clientId: string; actor: string },
): Promise<{ clientId: string; clientSecret: string; activeSecrets: number }> {
  const app = await requireByClientId(deps.db, input.clientId);
  return deps.db.transaction(async (tx) => {
    const { secret } = await addSecret(deps, tx, app.id);
    await insertAuditEvent(tx, {
      id: newId('audit'),
      applicationId: app.id,
      actor: input.actor,
      action: 'application.secret_rotated',
      subjectType: 'application',
      subjectId: app.id,
    });
    const active = await listActiveSecrets(tx, app.id);
    return { clientId: app.clientId, clientSecret: secret, activeSecrets: active.length };
  });
}

/** The largest per-minute override accepted: far above any single machine's capacity, well inside int4. */
export const MAX_RATE_LIMIT_PER_MINUTE = 100_000_000;

/**
 * Changes an Application's settings. `rateLimitPerMinute`: its API requests per minute (its
 * per-second window scales with it); null restores `API_RATE_LIMIT_PER_MINUTE`; undefined leaves it.
 * Running API processes notice within about a minute (they cache each Application's limit).
 */
export async function updateApplication(
  deps: ApplicationsDeps,
  input: {
    clientId: string;
    rateLimitPerMinute?: number | null;
    /** Replaces the registered redirect URIs (the authorize page and code exchange accept only these). */
    redirectUris?: readonly string[];
    actor: string;
  },
): Promise<Application> {
  const limit = input.rateLimitPerMinute;
  if (
    limit !== undefined &&
    limit !== null &&
    (!Number.isInteger(limit) || limit < 1 || limit > MAX_RATE_LIMIT_PER_MINUTE)
  ) {
    throw new ValidationError(
      `rate limit must be a whole number of requests per minute from 1 to ${MAX_RATE_LIMIT_PER_MINUTE}`,
      { rate_limit_per_minute: ['out of range'] },
    );
  }
  const redirectUris =
    input.redirectUris === undefined ? undefined : validateRedirectUris(input.redirectUris);
  const app = await requireByClientId(deps.db, input.clientId);
  if (limit === undefined && redirectUris === undefined) {
    return app;
  }
  return deps.db.transaction(async (tx) => {
    let updated: Application | undefined = app;
    if (limit !== undefined) {
      updated = await updateApplicationRateLimit(tx, app.id, limit);
    }
    if (updated && redirectUris !== undefined) {
      updated = await updateApplicationRedirectUris(tx, app.id, redirectUris);
    }
    if (!updated) {
      throw new NotFoundError('Application with client_id', input.clientId);
    }
    await insertAuditEvent(tx, {
      id: newId('audit'),
      applicationId: app.id,
      actor: input.actor,
      action: 'application.updated',
      subjectType: 'application',
      subjectId: app.id,
      data: {
        ...(limit === undefined ? {} : { rateLimitPerMinute: { from: app.rateLimitPerMinute, to: limit } }),
        ...(redirectUris === undefined ? {} : { redirectUris: { from: app.redirectUris, to: redirectUris } }),
      },
    });
    return updated;
  });
}

/** Revokes every client secret but the newest. */
export async function removeOldSecrets(
  deps: ApplicationsDeps,
  input: { clientId: string; actor: string },
): Promise<{ revoked: number }> {
  const app = await requireByClientId(deps.db, input.clientId);
  return deps.db.transaction(async (tx) => {
    const [newest] = await listActiveSecrets(tx, app.id);
    if (!newest) {
      return { revoked: 0 };
    }
    const revoked = await revokeSecretsExcept(tx, app.id, newest.id);
    await insertAuditEvent(tx, {
      id: newId('audit'),
      applicationId: app.id,
      actor: input.actor,
      action: 'application.old_secrets_removed',
      subjectType: 'application',
      subjectId: app.id,
      data: { revoked },
    });
    return { revoked };
  });
}

/** The Application a client secret belongs to, if the secret is active. */
export async function authenticateClientSecret(
  deps: ApplicationsDeps,
  secret: string,
): Promise<Application | undefined> {
  if (secret.length === 0 || secret.length > 512) {
    return undefined;
  }
  return findApplicationBySecretHash(deps.db, hashToken(secret));
}

/** Every active secret in plain text, newest first: outbound POSTs carry one signature per secret. */
export async function signingSecrets(deps: ApplicationsDeps, applicationId: string): Promise<string[]> {
  const rows = await listActiveSecrets(deps.db, applicationId);
  return rows.map((r) => deps.keyring.decrypt(r.secretEncrypted, aadOf('application_secrets', r.id)));
}

/** The Application with this public client id (the authorize page's `client_id`). */
export function findApplicationByClient(
  deps: Pick<ApplicationsDeps, 'db'>,
  clientId: string,
): Promise<Application | undefined> {
  return findApplicationByClientId(deps.db, clientId);
}
