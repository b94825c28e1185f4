import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { authorizeAccount, registerSandboxServiceAccount, usableUsers } from '../helpers/flow.js';
import { expectRunConsistent } from '../helpers/invariants.js';
import { usePgBouncer } from '../helpers/pgbouncer.js';
import { useReceiver } from '../helpers/receiver.js';
import { startRun, waitForRun } from '../helpers/runs.js';

/**
 * The whole service through a real PgBouncer in transaction mode (DATABASE_POOL_MODE=transaction:
 * postgres.js without prepared statements): a provisioning run and the token exchange.
 */
const bouncer = usePgBouncer({ poolSize: 8 });
const t = useTestApp({
  sandbox: { google: { users: 400, rooms: 20 }, microsoft: false },
  env: { DATABASE_POOL_MODE: 'transaction' },
  databaseUrl: (direct) => bouncer.url(direct),
});
const receiver = useReceiver();

describe('behind PgBouncer in transaction mode', () => {
  it('is really talking through PgBouncer, in transaction pooling', async () => {
    expect(t.config.databaseUrl).toContain(`:${bouncer.port}/`);
    expect(t.config.databasePoolMode).toBe('transaction');
    const admin = postgres(`postgres://postgres@127.0.0.1:${bouncer.port}/pgbouncer`, {
      max: 1,
      prepare: false,
      // The admin console speaks only the simple query protocol and has no pg_type.
      fetch_types: false,
      onnotice: () => {},
    });
    try {
      const pools = await admin.unsafe('show pools').simple();
      expect(pools.some((p) => p.pool_mode === 'transaction')).toBe(true);
    } finally {
      await admin.end();
    }
  });

  it('runs a provisioning run with exact counts', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const started = await startRun(t, sa.access_token, {
      include: ['users', 'rooms'],
      callback_url: `${receiver.url}/bouncer-run`,
      scope: 'read_only',
      state: 'bouncer',
    });
    const run = await waitForRun(t, sa.access_token, started.id);
    expect(run.status).toMatch(/^completed/);
    const facts = await expectRunConsistent(t.runtime.app.db, run.id, sa.service_account_id);
    expect(facts.items).toBe(420);
    expect(run.counts.listed).toBe(420);
    expect(run.counts.provisioned).toBeGreaterThan(300);
    expect(facts.callbacks).toBe(run.counts.provisioned + run.counts.failed);
  });

  it('exchanges a code for tokens, refreshes them, and serves the Account', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const [user] = await usableUsers(t, 'google');
    const tokens = await authorizeAccount(t, receiver, app, sa, user?.email as string);
    expect(tokens.sub).toMatch(/^acc_/);
    const refreshed = await fetch(`${t.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'refresh_token',
        client_id: app.clientId,
        client_secret: app.clientSecret,
        refresh_token: tokens.refresh_token,
      }),
    });
    expect(refreshed.status).toBe(200);
    const { access_token } = (await refreshed.json()) as { access_token: string };
    const userinfo = await fetch(`${t.url}/v1/userinfo`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(userinfo.status).toBe(200);
    expect(((await userinfo.json()) as { sub: string }).sub).toBe(tokens.sub);
  });
});
