import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { retryAfterOf, type SdkError, sdkClient } from '../helpers/cronofy-sdk.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { type Received, useReceiver } from '../helpers/receiver.js';
import { startRun } from '../helpers/runs.js';

/**
 * The hand-off at organization scale, as an app does it: a 2,000-account run's callbacks redeemed
 * through the official SDK, 16 at a time, against a rate limit low enough to bind.
 */
const PER_SECOND = 100;
const t = useTestApp({
  sandbox: { google: { users: 2_200, rooms: 20 }, microsoft: false },
  rateLimit: { perSecond: PER_SECOND, perMinute: 100_000 },
});
const receiver = useReceiver();

type Authorization = { authorization: { code?: string; email: string; error_key?: string } };
const authOf = (r: Received) => (r.json as Authorization).authorization;

describe('the official cronofy SDK redeeming a whole run', () => {
  it('every Account is redeemed exactly once; rate limits answer 429 with Retry-After, never 400', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const path = '/org-scale';
    const redirectUri = `${receiver.url}${path}`;
    const run = await startRun(t, sa.access_token, {
      include: ['users', 'rooms'],
      callback_url: redirectUri,
      scope: 'read_only',
      state: 'org',
      verify: 'directory',
    });
    const client = sdkClient(t.url, { client_id: app.clientId, client_secret: app.clientSecret });
    const subs = new Map<string, string>();
    const failures: string[] = [];
    const retryAfters: (string | undefined)[] = [];
    let next = 0;
    let finished = false;
    const redeemOne = async (hit: Received) => {
      const { code, email } = authOf(hit);
      if (!code) {
        return;
      }
      for (;;) {
        try {
          const token = await client.requestAccessToken({ code, redirect_uri: redirectUri });
          const sub = String(token.sub);
          if (subs.has(sub)) {
            failures.push(`${email}: redeemed twice`);
          }
          subs.set(sub, email);
          return;
        } catch (raw) {
          const err = raw as SdkError;
          if (err.statusCode !== 429) {
            failures.push(`${email}: ${err.statusCode} ${err.message}`);
            return;
          }
          const header = retryAfterOf(err);
          retryAfters.push(header);
          await sleep(Math.max(1, Number(header) || 1) * 1000);
        }
      }
    };
    // 16 redeemers taking callbacks in the order they arrive.
    const workers = Array.from({ length: 16 }, async () => {
      while (!finished || next < receiver.received.length) {
        const hit = receiver.received[next];
        if (!hit) {
          await sleep(10);
          continue;
        }
        next += 1;
        if (hit.path === path) {
          await redeemOne(hit);
        }
      }
    });
    // The run's progress is read from Postgres here: the app's API budget is the redeemers'.
    let final: { status: string; provisioned: number; failed: number } | undefined;
    for (const deadline = Date.now() + 150_000; Date.now() < deadline; await sleep(250)) {
      const [row] = await t.runtime.app.db.execute<{ status: string; provisioned: number; failed: number }>(
        sql`select status, provisioned, failed from provisioning_runs where id = ${run.id}`,
      );
      if (row && /^completed/.test(row.status)) {
        final = row;
        break;
      }
    }
    expect(final?.status).toMatch(/^completed/);
    const provisioned = final?.provisioned ?? 0;
    expect(provisioned).toBeGreaterThanOrEqual(1_900);
    await receiver.waitForDistinct(
      provisioned + (final?.failed ?? 0),
      (r) => r.path === path,
      (r) => authOf(r).email,
      90_000,
    );
    finished = true;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    expect(subs.size).toBe(provisioned);
    const [accounts] = await t.runtime.app.db.execute<{ n: number }>(
      sql`select count(*)::int as n from accounts where service_account_id = ${sa.service_account_id} and status = 'active'`,
    );
    expect(accounts?.n).toBe(provisioned);
    // The limit bound, and every 429 said when to come back.
    expect(retryAfters.length).toBeGreaterThan(0);
    expect(retryAfters.every((h) => h !== undefined && Number(h) >= 1)).toBe(true);
  }, 240_000);
});
