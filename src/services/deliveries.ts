import { createHash } from 'node:crypto';
import type { DbOrTx } from '../db/client.js';
import {
  type AttemptRecord,
  type ClaimedDelivery,
  cancelDeliveries,
  claimDueDeliveries,
  expireDeliveryCodes,
  insertDeliveriesOnce,
  liveAccountIds,
  type NewDelivery,
  recordAttempts,
} from '../db/queries/deliveries.js';
import { aadOf } from '../db/queries/encrypted-columns.js';
import { insertAuthorizationCodes, type NewAuthorizationCode } from '../db/queries/tokens.js';
import type { DeliveryKind } from '../db/schema/outbound-deliveries.js';
import { hashToken, hmacSignature, newOpaqueToken } from '../lib/crypto.js';
import { newId } from '../lib/ids.js';
import { postJson } from '../lib/outbound-http.js';
import { signingSecrets } from './applications.js';
import type { AppContext } from './context.js';
import { CODE_TTL_SECS } from './tokens.js';

/**
 * Delays between attempts: about a minute first, growing to 8 hours; the last attempt happens more
 * than 24 hours after the first, then the delivery is dead-lettered (visible in /admin and
 * `ec failures`, retryable by hand).
 */
export const RETRY_DELAYS_SECS = [
  60, 120, 300, 600, 1_800, 3_600, 7_200, 14_400, 28_800, 28_800, 28_800,
] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_SECS.length + 1;
/** Total deadline of one attempt, connection to status line (a trickling receiver is cut off). */
export const DELIVERY_TIMEOUT_MS = 10_000;
/**
 * How long a claimed delivery is held by the worker that claimed it. Longer than an attempt can
 * take, so a live worker never loses one; a killed worker's deliveries are sent again after this.
 */
export const DELIVERY_LEASE_MS = 30_000;

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
  /** The JSON body. A callback that carries a code has `authorization` without `code`: see `codeScope`. */
  body: unknown;
  runId?: string | null;
  accountId?: string | null;
  channelId?: string | null;
  /** Set for a callback whose every attempt carries a fresh code for `accountId` with this scope. */
  codeScope?: string | null;
};

/** The outbox row of a delivery, due now. */
export function deliveryRow(app: Pick<AppContext, 'keyring'>, d: NewOutbound): NewDelivery {
  return {
    id: d.id,
    applicationId: d.applicationId,
    kind: d.kind,
    url: d.url,
    bodyEncrypted: app.keyring.encrypt(JSON.stringify(d.body), aadOf('outbound_deliveries', d.id)),
    runId: d.runId ?? null,
    accountId: d.accountId ?? null,
    channelId: d.channelId ?? null,
    codeScope: d.codeScope ?? null,
    nextAttemptAt: new Date(),
  };
}

/**
 * Stores deliveries inside the caller's transaction (bodies encrypted), skipping ids that exist;
 * returns the ids inserted. Nothing is queued: once the transaction commits, the outbox is due and
 * any worker's delivery pump sends it.
 */
export async function storeDeliveries(
  tx: DbOrTx,
  app: Pick<AppContext, 'keyring'>,
  list: NewOutbound[],
): Promise<string[]> {
  return insertDeliveriesOnce(
    tx,
    list.map((d) => deliveryRow(app, d)),
  );
}

/** One delivery; false when a delivery with this id already exists. */
export async function storeDelivery(
  tx: DbOrTx,
  app: Pick<AppContext, 'keyring'>,
  d: NewOutbound,
): Promise<boolean> {
  return (await storeDeliveries(tx, app, [d])).length > 0;
}

/** A claimed delivery ready to send: its body (with this attempt's code) and signature. */
export type ReadyAttempt = {
  id: string;
  applicationId: string;
  url: string;
  body: string;
  signature: string;
  attempts: number;
};

export type ClaimOptions = {
  /** Deliveries to claim at most. */
  limit: number;
  /** Of one Application at most (fairness: every Application with due deliveries gets a share). */
  perApplication: number;
  /** Applications to leave alone this time (their receivers already have enough in flight). */
  exclude?: string[];
};

/**
 * Claims due deliveries and readies their attempts, in one transaction: a callback for an Account
 * that was revoked meanwhile is cancelled instead of sent; every other callback that carries a
 * code gets a fresh single-use code valid `CODE_TTL_SECS` from now, and the unredeemed code of its
 * previous attempt is expired. A code is never stored in the outbox, so a late attempt (a retry
 * hours later, a dead letter re-sent) is never dead on arrival.
 */
export async function claimAttempts(app: AppContext, opts: ClaimOptions): Promise<ReadyAttempt[]> {
  const { claimed, codes } = await app.db.transaction(async (tx) => {
    const rows = await claimDueDeliveries(tx, {
      limit: opts.limit,
      perApplication: opts.perApplication,
      leaseMs: DELIVERY_LEASE_MS,
      exclude: opts.exclude ?? [],
    });
    const withCode = rows.filter((d) => d.codeScope !== null && d.accountId !== null);
    if (withCode.length === 0) {
      return { claimed: rows, codes: new Map<string, string>() };
    }
    const live = await liveAccountIds(
      tx,
      withCode.map((d) => d.accountId ?? ''),
    );
    const revoked = withCode.filter((d) => !live.has(d.accountId ?? '')).map((d) => d.id);
    await cancelDeliveries(tx, revoked, 'the Account or its Service Account was revoked');
    const minting = withCode.filter((d) => live.has(d.accountId ?? ''));
    // Only a delivery claimed before can have handed out a code: on a first claim there is none to
    // expire (and no lookup among every live code to find that out).
    await expireDeliveryCodes(
      tx,
      minting.filter((d) => d.claims > 1).map((d) => d.id),
    );
    const codes = await mintDeliveryCodes(tx, minting);
    const cancelled = new Set(revoked);
    return { claimed: rows.filter((d) => !cancelled.has(d.id)), codes };
  });
  return readyAttempts(app, claimed, codes);
}

type CodedDelivery = {
  id: string;
  applicationId: string;
  url: string;
  accountId: string | null;
  codeScope: string | null;
};

/** Mints this attempt's single-use code for each delivery (only its hash is stored); by delivery id. */
async function mintDeliveryCodes(tx: DbOrTx, deliveries: CodedDelivery[]): Promise<Map<string, string>> {
  const expiresAt = new Date(Date.now() + CODE_TTL_SECS * 1000);
  const codes = new Map<string, string>();
  const codeRows: NewAuthorizationCode[] = deliveries.map((d) => {
    const code = newOpaqueToken();
    codes.set(d.id, code);
    return {
      id: newId('code'),
      applicationId: d.applicationId,
      codeHash: hashToken(code),
      subjectType: 'account',
      accountId: d.accountId,
      serviceAccountId: null,
      redirectUri: d.url,
      scope: d.codeScope ?? '',
      expiresAt,
      deliveryId: d.id,
    };
  });
  await insertAuthorizationCodes(tx, codeRows);
  return codes;
}

/** A callback's body with this attempt's code, first, as Cronofy orders the callback's fields. */
function bodyWithCode(body: string, code: string | undefined): string {
  if (code === undefined) {
    return body;
  }
  const parsed = JSON.parse(body) as { authorization?: Record<string, unknown> };
  parsed.authorization = { code, ...parsed.authorization };
  return JSON.stringify(parsed);
}

function readyAttempt(
  d: { id: string; applicationId: string; url: string; attempts: number },
  body: string,
  secrets: string[],
): ReadyAttempt {
  return {
    id: d.id,
    applicationId: d.applicationId,
    url: d.url,
    body,
    // One signature per active client secret (`Cronofy-HMAC-SHA256: sig1,sig2`) during a rotation.
    signature: secrets.map((s) => hmacSignature(body, s)).join(','),
    attempts: d.attempts,
  };
}

async function readyAttempts(
  app: AppContext,
  claimed: ClaimedDelivery[],
  codes: Map<string, string>,
): Promise<ReadyAttempt[]> {
  const secrets = new Map<string, string[]>();
  for (const applicationId of new Set(claimed.map((d) => d.applicationId))) {
    secrets.set(applicationId, await signingSecrets(app, applicationId));
  }
  return claimed.map((d) =>
    readyAttempt(
      d,
      bodyWithCode(app.keyring.decrypt(d.bodyEncrypted, aadOf('outbound_deliveries', d.id)), codes.get(d.id)),
      secrets.get(d.applicationId) ?? [],
    ),
  );
}

/**
 * A process's delivery pump as the code that commits deliveries sees it: it takes the first attempts
 * of deliveries this process commits and sends them at once, with no claim.
 */
export type DirectSender = {
  /** Takes up to `n` places for attempts to this Application now; returns how many it took. */
  reserve(applicationId: string, n: number): number;
  /** Gives back `n` places taken and not used. */
  release(applicationId: string, n: number): void;
  /** Sends attempts on places taken (each gives its place back when it ends). */
  send(attempts: ReadyAttempt[]): void;
};

const directSenders = new WeakMap<object, DirectSender>();

/** The pump registers itself; returns the unregister. */
export function registerDirectSender(app: object, sender: DirectSender): () => void {
  directSenders.set(app, sender);
  return () => {
    if (directSenders.get(app) === sender) {
      directSenders.delete(app);
    }
  };
}

/** Deliveries whose first attempt this process makes: `send()` once committed, `release()` if not. */
export type FirstAttempts = { send(): Promise<void>; release(): void };

/**
 * storeDeliveries for one Application's deliveries whose first attempt this process makes right after
 * the commit, as many as its pump has room for: those are stored already claimed by this process
 * (leased: due again only when the lease ends) with this attempt's codes, in the caller's transaction;
 * the rest are stored due, for any pump to claim. Call `send()` after the commit, `release()` when the
 * transaction failed. A process that dies between the two only delays them by the lease: another
 * pump then claims them, with fresh codes (the first ones expire on that claim).
 */
export async function storeDeliveriesSentHere(
  tx: DbOrTx,
  app: AppContext,
  list: NewOutbound[],
): Promise<FirstAttempts> {
  const sender = directSenders.get(app);
  const applicationId = list[0]?.applicationId ?? '';
  const taken =
    sender && list.every((d) => d.applicationId === applicationId)
      ? sender.reserve(applicationId, list.length)
      : 0;
  const here = list.slice(0, taken);
  const leaseEnds = new Date(Date.now() + DELIVERY_LEASE_MS);
  let mine: NewOutbound[];
  let codes: Map<string, string>;
  try {
    const inserted = new Set(
      await insertDeliveriesOnce(tx, [
        ...here.map((d) => ({ ...deliveryRow(app, d), claims: 1, nextAttemptAt: leaseEnds })),
        ...list.slice(taken).map((d) => deliveryRow(app, d)),
      ]),
    );
    // A delivery stored before (the batch ran twice) is left to its own lease or claim.
    mine = here.filter((d) => inserted.has(d.id));
    codes = await mintDeliveryCodes(
      tx,
      mine
        .filter((d) => d.codeScope && d.accountId)
        .map((d) => ({
          id: d.id,
          applicationId,
          url: d.url,
          accountId: d.accountId ?? null,
          codeScope: d.codeScope ?? null,
        })),
    );
  } catch (err) {
    if (taken > 0) {
      sender?.release(applicationId, taken);
    }
    throw err;
  }
  // Places taken for deliveries stored before (not ours to send) go back at once.
  if (sender && taken > mine.length) {
    sender.release(applicationId, taken - mine.length);
  }
  /** Set once the places held for `mine` are sent on or given back. */
  let settled = !sender || mine.length === 0;
  return {
    release: () => {
      if (!settled) {
        settled = true;
        sender?.release(applicationId, mine.length);
      }
    },
    send: async () => {
      if (settled || !sender) {
        return;
      }
      settled = true;
      let secrets: string[];
      try {
        secrets = await signingSecrets(app, applicationId);
      } catch (err) {
        // Committed and leased: sent when the lease ends, by whichever pump claims them.
        sender.release(applicationId, mine.length);
        throw err;
      }
      sender.send(
        mine.map((d) =>
          readyAttempt(
            { id: d.id, applicationId, url: d.url, attempts: 0 },
            bodyWithCode(JSON.stringify(d.body), codes.get(d.id)),
            secrets,
          ),
        ),
      );
    },
  };
}

/** Makes one attempt and says how to record it: delivered, retry later (with jitter), or dead. */
export async function sendAttempt(app: AppContext, a: ReadyAttempt): Promise<AttemptRecord> {
  const result = await postJson(
    a.url,
    a.body,
    { 'cronofy-hmac-sha256': a.signature, 'user-agent': 'enterprise-connect' },
    { timeoutMs: DELIVERY_TIMEOUT_MS, allowPrivate: app.config.outbound.allowPrivate },
  );
  if ('status' in result && result.status >= 200 && result.status < 300) {
    return { id: a.id, attempts: a.attempts, status: 'delivered', statusCode: result.status };
  }
  const statusCode = 'status' in result ? result.status : null;
  const error = 'status' in result ? `HTTP ${result.status}` : result.error;
  const delaySecs = RETRY_DELAYS_SECS[a.attempts];
  if (delaySecs === undefined) {
    app.logger.warn(
      { deliveryId: a.id, statusCode, error, attempts: a.attempts + 1 },
      'delivery dead-lettered',
    );
    return { id: a.id, attempts: a.attempts, status: 'dead', statusCode, error };
  }
  // ±20% jitter so a receiver that was down is not hit by every retry at once.
  const retryInMs = Math.round(delaySecs * 1000 * (0.8 + Math.random() * 0.4));
  return {
    id: a.id,
    attempts: a.attempts,
    status: 'pending',
    statusCode,
    error,
    nextAttemptAt: new Date(Date.now() + retryInMs),
  };
}

/** Records attempts' outcomes in one statement. */
export async function recordDeliveryAttempts(
  app: Pick<AppContext, 'db'>,
  records: AttemptRecord[],
): Promise<void> {
  await recordAttempts(app.db, records);
}

/**
 * One round of the outbox, start to end: claim what is due, send it all, record the outcomes. The
 * delivery pump does the same continuously with many rounds overlapping; tests and one-off tools
 * use this.
 */
export async function deliverDue(
  app: AppContext,
  opts: ClaimOptions = { limit: 1_000, perApplication: 1_000 },
): Promise<AttemptRecord[]> {
  const ready = await claimAttempts(app, opts);
  const records = await Promise.all(ready.map((a) => sendAttempt(app, a)));
  await recordDeliveryAttempts(app, records);
  return records;
}
