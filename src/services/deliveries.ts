import { createHash } from 'node:crypto';
import type { DbOrTx } from '../db/client.js';
import { findDelivery, insertDeliveryOnce, recordAttempt } from '../db/queries/deliveries.js';
import type { DeliveryKind } from '../db/schema/outbound-deliveries.js';
import { hmacSignature } from '../lib/crypto.js';
import { postJson } from '../lib/outbound-http.js';
import { signingSecrets } from './applications.js';
import type { AppContext } from './context.js';

/**
 * Delays between attempts: about a minute first, growing to 8 hours; the last attempt happens more
 * than 24 hours after the first, then the delivery is dead-lettered (visible in /admin and
 * `ec failures`, retryable by hand).
 */
export const RETRY_DELAYS_SECS = [
  60, 120, 300, 600, 1_800, 3_600, 7_200, 14_400, 28_800, 28_800, 28_800,
] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_SECS.length + 1;
export const DELIVERY_TIMEOUT_MS = 10_000;

/** A deterministic delivery id from what it is for, so a job that runs twice creates one delivery. */
export function deliveryIdFor(key: string): string {
  return `dlv_${createHash('sha256')
    .update(key)
    .digest('base64url')
    .slice(0, 26)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, 'x')}`;
}

export type NewOutbound = {
  id: string;
  applicationId: string;
  kind: DeliveryKind;
  url: string;
  body: unknown;
  runId?: string | null;
  accountId?: string | null;
  channelId?: string | null;
};

/**
 * Stores a delivery (body encrypted: it may hold an authorization code) inside the caller's
 * transaction. Returns false when a delivery with this id already exists. Enqueue
 * `deliveries.send` after the commit.
 */
export async function storeDelivery(
  tx: DbOrTx,
  app: Pick<AppContext, 'keyring'>,
  d: NewOutbound,
): Promise<boolean> {
  return insertDeliveryOnce(tx, {
    id: d.id,
    applicationId: d.applicationId,
    kind: d.kind,
    url: d.url,
    bodyEncrypted: app.keyring.encrypt(JSON.stringify(d.body)),
    runId: d.runId ?? null,
    accountId: d.accountId ?? null,
    channelId: d.channelId ?? null,
    nextAttemptAt: new Date(),
  });
}

export type AttemptOutcome = 'delivered' | 'retry' | 'dead' | 'skipped';

/**
 * Makes attempt number `attemptsSoFar + 1` at a delivery and records it. The body is signed with every active client
 * secret of the Application (`Cronofy-HMAC-SHA256: sig1,sig2`). Returns what happened and, for a
 * retry, when.
 */
export async function attemptDelivery(
  app: AppContext,
  deliveryId: string,
  attemptsSoFar: number,
): Promise<{ outcome: AttemptOutcome; retryInMs?: number }> {
  const delivery = await findDelivery(app.db, deliveryId);
  // A duplicate job for an attempt already made (or a finished delivery) does nothing.
  if (delivery?.status !== 'pending' || delivery.attempts !== attemptsSoFar) {
    return { outcome: 'skipped' };
  }
  const body = app.keyring.decrypt(delivery.bodyEncrypted);
  const secrets = await signingSecrets(app, delivery.applicationId);
  const headers: Record<string, string> = {
    'cronofy-hmac-sha256': secrets.map((s) => hmacSignature(body, s)).join(','),
    'user-agent': 'enterprise-connect',
  };
  const result = await postJson(delivery.url, body, headers, {
    timeoutMs: DELIVERY_TIMEOUT_MS,
    allowPrivate: app.config.outbound.allowPrivate,
  });
  if ('status' in result && result.status >= 200 && result.status < 300) {
    await recordAttempt(app.db, deliveryId, { status: 'delivered', statusCode: result.status });
    return { outcome: 'delivered' };
  }
  const statusCode = 'status' in result ? result.status : null;
  const error = 'status' in result ? `HTTP ${result.status}` : result.error;
  const attemptNumber = delivery.attempts + 1;
  const delaySecs = RETRY_DELAYS_SECS[attemptNumber - 1];
  if (delaySecs === undefined) {
    await recordAttempt(app.db, deliveryId, { status: 'dead', statusCode, error });
    app.logger.warn({ deliveryId, statusCode, error, attempts: attemptNumber }, 'delivery dead-lettered');
    return { outcome: 'dead' };
  }
  // ±20% jitter so a receiver that was down is not hit by every retry at once.
  const retryInMs = Math.round(delaySecs * 1000 * (0.8 + Math.random() * 0.4));
  await recordAttempt(app.db, deliveryId, {
    status: 'pending',
    statusCode,
    error,
    nextAttemptAt: new Date(Date.now() + retryInMs),
  });
  return { outcome: 'retry', retryInMs };
}
