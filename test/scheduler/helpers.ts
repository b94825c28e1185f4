import { inArray, sql } from 'drizzle-orm';
import { expect } from 'vitest';
import type { Db } from '../../src/db/client.js';
import { type Profile, profiles } from '../../src/db/schema/profiles.js';
import { hmacSignature } from '../../src/lib/crypto.js';
import type { TestApp } from '../helpers/app.js';
import type { Received, Receiver } from '../helpers/receiver.js';

/** Polls `probe` until it returns something truthy (or fails after `timeoutMs`). */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Makes Profiles due now (as if their check interval or backoff had passed). */
export async function makeDue(db: Db, profileIds: string[]): Promise<void> {
  await db
    .update(profiles)
    .set({ nextCheckAt: sql`now() - interval '1 second'` })
    .where(inArray(profiles.id, profileIds));
}

export async function profileRows(db: Db, profileIds: string[]): Promise<Profile[]> {
  return db.select().from(profiles).where(inArray(profiles.id, profileIds));
}

/**
 * Waits until every Profile is `connected` as asked and, with `checkedSince`, has been checked since
 * then (a Profile already in that state may still be on a check lease, its check not yet run).
 */
export async function waitConnected(
  t: TestApp,
  profileIds: string[],
  connected: boolean,
  checkedSince?: Date,
): Promise<Profile[]> {
  return eventually(
    async () => {
      const rows = await profileRows(t.runtime.app.db, profileIds);
      const settled = (r: Profile) =>
        r.connected === connected &&
        (checkedSince === undefined || (r.lastCheckedAt?.getTime() ?? 0) >= checkedSince.getTime());
      return rows.length === profileIds.length && rows.every(settled) && rows;
    },
    `profiles ${connected ? 'connected' : 'disconnected'}${checkedSince ? ' and checked' : ''}`,
  );
}

export type Notification = {
  notification: {
    type: string;
    changes_since?: string;
    profile_id?: string;
    profile_name?: string;
    profile_connected?: boolean;
    profile_disconnect_reason?: string | null;
    profile_relink_url?: string;
  };
  channel: { channel_id: string; callback_url: string; filters: Record<string, unknown> };
};

/** The next notification of `type` on `path` (optionally about one Profile), signature checked. */
export async function waitNotification(
  receiver: Receiver,
  clientSecret: string,
  match: { path: string; type: string; profileId?: string },
  timeoutMs = 15_000,
): Promise<{ hit: Received; body: Notification }> {
  const hit = await receiver.waitFor((r) => {
    const n = r.json as Notification | undefined;
    return (
      r.path === match.path &&
      n?.notification?.type === match.type &&
      (match.profileId === undefined || n.notification.profile_id === match.profileId)
    );
  }, timeoutMs);
  const signatures = String(hit.headers['cronofy-hmac-sha256'] ?? '').split(',');
  expect(signatures).toContain(hmacSignature(hit.body, clientSecret));
  return { hit, body: hit.json as Notification };
}

export async function api(
  t: TestApp,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}
