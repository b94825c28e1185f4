import { eq, sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { tokens } from '../../src/db/schema/tokens.js';
import { hashToken, newOpaqueToken } from '../../src/lib/crypto.js';
import { newId } from '../../src/lib/ids.js';
import { useTestApp } from '../helpers/app.js';
import { authorizeAccount, registerSandboxServiceAccount, usableUsers } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { fillPath, isThirdPartyRoute, liveRoutes } from '../helpers/routes.js';
import { startRun, waitForRun } from '../helpers/runs.js';

// Every route of the live route table, called as another Application and with the wrong kind of
// credential (DESIGN §6): an Account token where a Service Account token is expected and the other
// way round, a token where a client secret is expected, a revoked one, an expired one. The answer is
// 401 (bad, revoked or expired credential) or 403/404 (valid credential, wrong kind or another
// Application's object), and never carries another Application's data.
const ADMIN_TOKEN = 'route-auth-admin-token-0123456789';
const METRICS_TOKEN = 'route-auth-metrics-token-012345678';
const t = useTestApp({
  sandbox: { google: false, microsoft: { users: 12, rooms: 2 } },
  env: { ADMIN_TOKEN, METRICS_TOKEN },
});
const receiver = useReceiver();

type Kind = 'application' | 'service_account' | 'account';
type Party = {
  clientId: string;
  clientSecret: string;
  saToken: string;
  accountToken: string;
  serviceAccountId: string;
  sub: string;
  profileId: string;
  runId: string;
  channelId: string;
};
const A = {} as Party;
const B = {} as Party;
/** A's credentials of each kind, revoked and expired (real rows in the tokens table). */
const stale: Record<'revoked' | 'expired', Record<Exclude<Kind, 'application'>, string>> = {
  revoked: { service_account: '', account: '' },
  expired: { service_account: '', account: '' },
};
let retiredSecret = '';

/** A copy of a token's row under a new token: revoked or already expired. */
async function staleCopy(token: string, how: 'revoked' | 'expired'): Promise<string> {
  const db = t.runtime.app.db;
  const [row] = await db
    .select()
    .from(tokens)
    .where(eq(tokens.tokenHash, hashToken(token)));
  if (!row) {
    throw new Error('token row not found');
  }
  const copy = newOpaqueToken(32);
  const past = new Date(Date.now() - 60_000);
  await db.insert(tokens).values({
    ...row,
    id: newId('token'),
    tokenHash: hashToken(copy),
    ...(how === 'revoked' ? { revokedAt: past } : { expiresAt: past }),
  });
  return copy;
}

async function party(p: Party, email: string) {
  const app = await t.createApplication(['https://app.example.com/cb']);
  const sa = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret);
  const account = await authorizeAccount(t, receiver, app, sa, email);
  const run = await startRun(t, sa.access_token, { include: ['rooms'], dry_run: true });
  await waitForRun(t, sa.access_token, run.id, 60_000);
  const channel = await fetch(`${t.url}/v1/channels`, {
    method: 'POST',
    headers: { authorization: `Bearer ${account.access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ callback_url: `${receiver.url}/channel` }),
  });
  const channelJson = (await channel.json()) as { channel: { channel_id: string } };
  Object.assign(p, {
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    saToken: sa.access_token,
    accountToken: account.access_token,
    serviceAccountId: sa.service_account_id,
    sub: account.sub,
    profileId: (account.linking_profile as { profile_id: string }).profile_id,
    runId: run.id,
    channelId: channelJson.channel.channel_id,
  });
}

beforeAll(async () => {
  const [ua, ub] = await usableUsers(t, 'microsoft', 2);
  await party(A, ua?.email ?? '');
  await party(B, ub?.email ?? '');
  for (const how of ['revoked', 'expired'] as const) {
    stale[how].service_account = await staleCopy(A.saToken, how);
    stale[how].account = await staleCopy(A.accountToken, how);
  }
  // A client secret A no longer holds: rotated out, then removed.
  const extra = await t.createApplication();
  retiredSecret = extra.clientSecret;
  await t.runtime.app.db.execute(
    sql`update application_secrets set revoked_at = now() where application_id = ${extra.applicationId}`,
  );
}, 120_000);

/** What a route expects, by its noun (DESIGN §6); a route none of these names fails the test. */
function expects(url: string): Kind | 'admin' | 'metrics' | 'client_body' | 'none' | undefined {
  if (url.startsWith('/oauth/token')) {
    return 'client_body';
  }
  if (/^\/v1\/(service_accounts|audit_events|availability)(\/|$)/.test(url)) {
    return 'application';
  }
  if (/^\/v1\/(service_account_authorizations|resources|provisioning_runs)(\/|$)/.test(url)) {
    return 'service_account';
  }
  if (/^\/v1\/(userinfo|account|profiles|calendars|channels|free_busy|events)(\/|$)/.test(url)) {
    return 'account';
  }
  if (url === '/metrics') {
    return 'metrics';
  }
  if (url.startsWith('/admin')) {
    return 'admin';
  }
  if (/^\/(healthz|readyz|relink|enterprise_connect)(\/|$)/.test(url)) {
    return 'none';
  }
  return undefined;
}

/** A's object ids for each route's parameters (so B's calls aim at A's objects). */
function paramsFor(url: string, p: Party): Record<string, string> {
  const id =
    url.includes('/service_accounts') || url.includes('/service-accounts')
      ? p.serviceAccountId
      : url.includes('/provisioning_runs') || url.includes('/runs/')
        ? p.runId
        : url.includes('/channels')
          ? p.channelId
          : url.includes('/profiles')
            ? p.profileId
            : `unknown_${'a'.repeat(26)}`;
  return { id, profileId: p.profileId };
}

/** A's identifiers, none of which may appear in an answer to B or to a refused credential. */
const secretsOfA = () => [
  A.serviceAccountId,
  A.sub,
  A.profileId,
  A.runId,
  A.channelId,
  A.clientSecret,
  A.saToken,
];

async function call(method: string, path: string, authorization?: string) {
  const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
  const res = await fetch(`${t.url}${path}`, {
    method,
    redirect: 'manual',
    headers: {
      ...(authorization === undefined ? {} : { authorization: `Bearer ${authorization}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body }),
  });
  return { status: res.status, text: await res.text() };
}

describe('every route, as another Application and with the wrong credentials', () => {
  it('classifies every live route', () => {
    const unknown = liveRoutes(t.server)
      .filter((r) => !isThirdPartyRoute(r.url) || r.url.startsWith('/admin/queues'))
      .filter((r) => !r.url.startsWith('/docs'))
      .filter((r) => expects(r.url) === undefined)
      .map((r) => `${r.method} ${r.url}`);
    expect(unknown, 'routes this test does not know the credential of').toEqual([]);
  });

  it('Bearer routes: 401 for none, revoked or expired; 401/403 for the wrong kind; B never sees A', async () => {
    const checked: string[] = [];
    const failures: string[] = [];
    const credential = (p: Party, kind: Kind) =>
      kind === 'application' ? p.clientSecret : kind === 'service_account' ? p.saToken : p.accountToken;
    for (const { method, url } of liveRoutes(t.server)) {
      const kind = expects(url);
      if (kind !== 'application' && kind !== 'service_account' && kind !== 'account') {
        continue;
      }
      const path = fillPath(url, paramsFor(url, A));
      const label = `${method} ${url}`;
      const expect401 = async (what: string, token: string | undefined) => {
        const r = await call(method, path, token);
        if (r.status !== 401) {
          failures.push(`${label} ${what}: ${r.status} ${r.text.slice(0, 120)}`);
        }
        checked.push(`${label} ${what}`);
      };
      await expect401('no credential', undefined);
      await expect401('retired client secret', kind === 'application' ? retiredSecret : `x${A.saToken}`);
      if (kind !== 'application') {
        await expect401('revoked token', stale.revoked[kind]);
        await expect401('expired token', stale.expired[kind]);
      }
      // userinfo also answers Service Account tokens (as Cronofy's does).
      const accepted: Kind[] = url === '/v1/userinfo' ? ['account', 'service_account'] : [kind];
      for (const other of (['application', 'service_account', 'account'] as const).filter(
        (k) => !accepted.includes(k),
      )) {
        const r = await call(method, path, credential(A, other));
        checked.push(`${label} as ${other}`);
        if (r.status !== 401 && r.status !== 403) {
          failures.push(`${label} with a ${other} credential: ${r.status} ${r.text.slice(0, 120)}`);
        }
      }
      // B's own credential of the right kind, aimed at A's objects.
      const r = await call(method, path, credential(B, kind));
      checked.push(`${label} as another Application`);
      // A 404 may repeat the id the caller sent; anything else of A's is a leak.
      const leaked = secretsOfA().filter((s) => r.text.includes(s) && !path.includes(s));
      if (leaked.length > 0) {
        failures.push(`${label} showed B data of A: ${leaked.join(', ')}`);
      }
      if (url.includes(':') && r.status !== 403 && r.status !== 404) {
        failures.push(`${label} on A's object as B: ${r.status} ${r.text.slice(0, 120)}`);
      }
      if (r.status >= 500) {
        failures.push(`${label} as B: ${r.status}`);
      }
    }
    expect(failures).toEqual([]);
    expect(checked.length).toBeGreaterThan(80);
  }, 120_000);

  it('token endpoints: a token or a retired secret where the client secret is expected is invalid_client', async () => {
    const grants = [
      { grant_type: 'refresh_token', refresh_token: 'x'.repeat(43) },
      { grant_type: 'authorization_code', code: 'x'.repeat(43), redirect_uri: 'https://app.example.com/cb' },
    ];
    for (const secret of [A.saToken, A.accountToken, stale.revoked.account, retiredSecret, B.clientSecret]) {
      for (const body of grants) {
        const res = await fetch(`${t.url}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...body, client_id: A.clientId, client_secret: secret }),
        });
        expect(res.status).toBe(400);
        expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
      }
      const revoke = await fetch(`${t.url}/oauth/token/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: A.clientId, client_secret: secret, token: A.accountToken }),
      });
      expect(revoke.status).toBe(400);
    }
    // A's Account token still works: none of those revoked it.
    expect((await call('GET', '/v1/account', A.accountToken)).status).toBe(200);
  });

  it('admin and metrics routes refuse every API credential', async () => {
    for (const { method, url } of liveRoutes(t.server)) {
      const kind = expects(url);
      if (kind !== 'admin' && kind !== 'metrics') {
        continue;
      }
      const path = fillPath(url, paramsFor(url, A));
      for (const token of [
        A.clientSecret,
        A.saToken,
        A.accountToken,
        kind === 'admin' ? METRICS_TOKEN : ADMIN_TOKEN,
      ]) {
        const r = await call(method, path, token);
        expect(r.status, `${method} ${url}`).toBe(401);
        expect(secretsOfA().filter((s) => r.text.includes(s))).toEqual([]);
      }
    }
  });
});
