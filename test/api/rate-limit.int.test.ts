import { eq } from 'drizzle-orm';
import type { InjectOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import { buildServer, type Server, type ServerOptions } from '../../src/api/server.js';
import type { Config } from '../../src/config.js';
import { auditEvents } from '../../src/db/schema/audit-events.js';
import type { AppContext } from '../../src/services/context.js';
import { limitsFor } from '../../src/services/rate-limit-keys.js';
import { useTestApp } from '../helpers/app.js';
import { runEc } from '../helpers/cli.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';

// Each test builds its own small-budget server on the shared runtime, with fresh Applications and
// addresses, so no request of another test counts against it.
const t = useTestApp({ workers: false, sandbox: { google: { users: 2, rooms: 0 }, microsoft: false } });

let addressSeq = 0;
/** An address no other request of this file has used (inject's default is 127.0.0.1). */
const freshAddress = () => `10.77.${Math.floor(++addressSeq / 250)}.${(addressSeq % 250) + 1}`;

async function withServer<T>(
  opts: ServerOptions & { config?: (c: Config) => Config },
  fn: (server: Server) => Promise<T>,
): Promise<T> {
  const { config, ...serverOpts } = opts;
  const app: AppContext = config ? { ...t.runtime.app, config: config(t.runtime.app.config) } : t.runtime.app;
  const server = await buildServer(app, serverOpts);
  await server.ready();
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

/** A token request that fails cleanly (400 invalid_grant) when not limited. */
const tokenRequest = (
  clientId: string,
  clientSecret: string,
  extra: Partial<InjectOptions> = {},
): InjectOptions => ({
  method: 'POST',
  url: '/oauth/token',
  payload: {
    grant_type: 'refresh_token',
    client_id: clientId,
    client_secret: clientSecret,
    refresh_token: 'not-a-refresh-token',
  },
  ...extra,
});

const statuses = async (server: Server, requests: InjectOptions[]) => {
  const out: number[] = [];
  for (const r of requests) {
    out.push((await server.inject(r)).statusCode);
  }
  return out;
};

function expectRetryAfter(value: unknown) {
  expect(typeof value).toBe('string');
  expect(value as string).toMatch(/^\d+$/);
  expect(Number(value)).toBeGreaterThanOrEqual(1);
}

describe('token endpoints', () => {
  it('answer 429 with Retry-After and an RFC 6749-shaped body past the limit, never 400', async () => {
    const app = await t.createApplication();
    await withServer({ rateLimit: { perSecond: 1_000, perMinute: 3 } }, async (server) => {
      const remoteAddress = freshAddress();
      const under = await statuses(
        server,
        Array.from({ length: 3 }, () => tokenRequest(app.clientId, app.clientSecret, { remoteAddress })),
      );
      expect(under).toEqual([400, 400, 400]);
      const limited = await server.inject(tokenRequest(app.clientId, app.clientSecret, { remoteAddress }));
      expect(limited.statusCode).toBe(429);
      expectRetryAfter(limited.headers['retry-after']);
      expect(limited.headers['cache-control']).toBe('no-store');
      const body = limited.json<{ error: string; error_description: string }>();
      expect(body.error).toBe('rate_limited');
      expect(body.error_description).toMatch(/3 requests per minute/);

      // Revocation shares the Application's budget, and a form body names the client just as well.
      const revoke = await server.inject({
        method: 'POST',
        url: '/oauth/token/revoke',
        remoteAddress,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          client_id: app.clientId,
          client_secret: app.clientSecret,
          token: 'x',
        }).toString(),
      });
      expect(revoke.statusCode).toBe(429);
      expectRetryAfter(revoke.headers['retry-after']);
      expect(revoke.json()).toMatchObject({ error: 'rate_limited' });
    });
  });

  it('give two Applications behind one address separate budgets; unknown client ids share the address’s', async () => {
    const first = await t.createApplication();
    const second = await t.createApplication();
    await withServer({ rateLimit: { perSecond: 1_000, perMinute: 2 } }, async (server) => {
      const remoteAddress = freshAddress();
      const first3 = await statuses(
        server,
        Array.from({ length: 3 }, () => tokenRequest(first.clientId, first.clientSecret, { remoteAddress })),
      );
      expect(first3).toEqual([400, 400, 429]);
      // Same address, another Application: its own budget.
      const second2 = await statuses(
        server,
        Array.from({ length: 2 }, () =>
          tokenRequest(second.clientId, second.clientSecret, { remoteAddress }),
        ),
      );
      expect(second2).toEqual([400, 400]);
      // client_ids naming no Application are counted by address, whatever they say.
      const unknown = await statuses(
        server,
        ['nobody-1', 'nobody-2', 'nobody-3'].map((id) => tokenRequest(id, 'x', { remoteAddress })),
      );
      expect(unknown).toEqual([400, 400, 429]);
      // A malformed body (client_id not a string) is limited too, never let through to a 400.
      const malformed = await server.inject({
        method: 'POST',
        url: '/oauth/token',
        remoteAddress,
        payload: { client_id: 42 },
      });
      expect(malformed.statusCode).toBe(429);
      // The exhausted address does not spill onto an Application's own budget.
      const third = await t.createApplication();
      const fresh = await server.inject(tokenRequest(third.clientId, third.clientSecret, { remoteAddress }));
      expect(fresh.statusCode).toBe(400);
    });
  });
});

describe('client addresses', () => {
  const unauthenticated = (remoteAddress: string, forwardedFor: string): InjectOptions => ({
    method: 'GET',
    url: '/v1/resources',
    remoteAddress,
    headers: { 'x-forwarded-for': forwardedFor },
  });

  it('ignore X-Forwarded-For without TRUST_PROXY', async () => {
    expect(t.config.http.trustProxy).toBe(false);
    await withServer({ rateLimit: { perSecond: 1_000, perMinute: 2 } }, async (server) => {
      const remoteAddress = freshAddress();
      const answers = await statuses(
        server,
        ['203.0.113.1', '203.0.113.2', '203.0.113.3'].map((xff) => unauthenticated(remoteAddress, xff)),
      );
      expect(answers).toEqual([401, 401, 429]);
    });
  });

  it('honour X-Forwarded-For from a trusted proxy only', async () => {
    const proxy = freshAddress();
    await withServer(
      {
        rateLimit: { perSecond: 1_000, perMinute: 2 },
        config: (c) => ({ ...c, http: { ...c.http, trustProxy: [proxy] } }),
      },
      async (server) => {
        const viaProxy = await statuses(
          server,
          ['198.51.100.1', '198.51.100.2', '198.51.100.3'].map((xff) => unauthenticated(proxy, xff)),
        );
        expect(viaProxy).toEqual([401, 401, 401]);
        // The same client twice more through the proxy: its own budget (2) is spent on the third.
        const sameClient = await statuses(server, [
          unauthenticated(proxy, '198.51.100.1'),
          unauthenticated(proxy, '198.51.100.1'),
        ]);
        expect(sameClient).toEqual([401, 429]);
        const untrusted = freshAddress();
        const direct = await statuses(
          server,
          ['198.51.100.7', '198.51.100.8', '198.51.100.9'].map((xff) => unauthenticated(untrusted, xff)),
        );
        expect(direct).toEqual([401, 401, 429]);
      },
    );
  });
});

describe('windows', () => {
  it('binds the per-second window on its own, and it resets within a couple of seconds', async () => {
    const app = await t.createApplication();
    const asApp = { authorization: `Bearer ${app.clientSecret}` };
    const request: InjectOptions = {
      method: 'GET',
      url: '/v1/service_accounts/ser_aaaaaaaaaaaaaaaaaaaaaaaaaa',
      headers: asApp,
    };
    await withServer({ rateLimit: { perSecond: 3, perMinute: 10_000 } }, async (server) => {
      await server.inject(request); // resolves the bearer once, so the burst below is quick
      const burst = await Promise.all(Array.from({ length: 12 }, () => server.inject(request)));
      const limited = burst.filter((r) => r.statusCode === 429);
      expect(burst.filter((r) => r.statusCode === 404).length).toBeLessThanOrEqual(6); // ≤ 2 windows' worth
      expect(limited.length).toBeGreaterThan(0);
      for (const r of limited) {
        expect(r.headers['retry-after']).toBe('1');
        expect(r.json()).toMatchObject({
          error: { code: 'rate_limited', message: expect.stringMatching(/3 requests per second/) },
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      expect((await server.inject(request)).statusCode).toBe(404);
    });
  });

  it('scales an override’s per-second window with the defaults’ ratio, at least 1', () => {
    const defaults = { perSecond: 2_000, perMinute: 60_000 };
    expect(limitsFor(defaults, null)).toEqual(defaults);
    expect(limitsFor(defaults, 6_000)).toEqual({ perMinute: 6_000, perSecond: 200 });
    expect(limitsFor(defaults, 10)).toEqual({ perMinute: 10, perSecond: 1 });
  });
});

describe('bearer routes', () => {
  it('answer 429 with Retry-After in the usual error shape, for valid and unknown bearers alike', async () => {
    const app = await t.createApplication();
    await withServer({ rateLimit: { perSecond: 1_000, perMinute: 2 } }, async (server) => {
      const request: InjectOptions = {
        method: 'GET',
        url: '/v1/service_accounts/ser_aaaaaaaaaaaaaaaaaaaaaaaaaa',
        headers: { authorization: `Bearer ${app.clientSecret}` },
        remoteAddress: freshAddress(),
      };
      expect(await statuses(server, [request, request])).toEqual([404, 404]);
      const limited = await server.inject(request);
      expect(limited.statusCode).toBe(429);
      expectRetryAfter(limited.headers['retry-after']);
      const body = limited.json<{ error: { code: string; message: string; requestId: string } }>();
      expect(body.error.code).toBe('rate_limited');
      expect(body.error.requestId).toBe(limited.headers['x-request-id']);

      const guess: InjectOptions = {
        method: 'GET',
        url: '/v1/resources',
        headers: { authorization: 'Bearer guessed-token' },
        remoteAddress: freshAddress(),
      };
      expect(await statuses(server, [guess, guess, guess])).toEqual([401, 401, 429]);
      // Probes are never limited.
      expect(
        await statuses(server, [
          { method: 'GET', url: '/healthz', remoteAddress: guess.remoteAddress ?? '' },
          { method: 'GET', url: '/healthz', remoteAddress: guess.remoteAddress ?? '' },
          { method: 'GET', url: '/healthz', remoteAddress: guess.remoteAddress ?? '' },
        ]),
      ).toEqual([200, 200, 200]);
    });
  });
});

describe('ec apps update --rate-limit', () => {
  const env = () => ({
    DATABASE_URL: t.config.databaseUrl,
    ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
    LOG_LEVEL: 'silent',
    API_RATE_LIMIT_PER_SECOND: '1000',
    API_RATE_LIMIT_PER_MINUTE: '60000',
  });

  it('overrides one Application’s budget, is audited, shows in `apps list`, and `default` clears it', async () => {
    const app = await t.createApplication();
    const other = await t.createApplication();
    const updated = await runEc(
      ['apps', 'update', '--client-id', app.clientId, '--rate-limit', '120'],
      env(),
    );
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toContain('120/min, 2/s');

    // Defaults of this server: 1,000,000 per minute and per second, so the override's per-second
    // window is 120 × 1 = 120 and its per-minute one binds first.
    await withServer({ rateLimit: { perSecond: 1_000_000, perMinute: 1_000_000 } }, async (server) => {
      const remoteAddress = freshAddress();
      const mine = await Promise.all(
        Array.from({ length: 121 }, () =>
          server.inject(tokenRequest(app.clientId, app.clientSecret, { remoteAddress })),
        ),
      );
      expect(mine.filter((r) => r.statusCode === 400)).toHaveLength(120);
      const limited = mine.filter((r) => r.statusCode === 429);
      expect(limited).toHaveLength(1);
      expect(limited[0]?.json()).toMatchObject({ error: 'rate_limited' });
      expect(limited[0]?.json<{ error_description: string }>().error_description).toMatch(
        /120 requests per minute/,
      );
      const theirs = await server.inject(tokenRequest(other.clientId, other.clientSecret, { remoteAddress }));
      expect(theirs.statusCode).toBe(400);
    });

    const list = await runEc(['apps', 'list', '--json'], env());
    expect(list.code, list.stderr).toBe(0);
    const rows = JSON.parse(list.stdout) as { client_id: string; rate_limit_per_minute: number | null }[];
    expect(rows.find((r) => r.client_id === app.clientId)?.rate_limit_per_minute).toBe(120);
    expect(rows.find((r) => r.client_id === other.clientId)?.rate_limit_per_minute).toBeNull();
    const table = await runEc(['apps', 'list'], env());
    expect(table.stdout).toMatch(/rate limit/);
    expect(table.stdout).toContain('120/min, 2/s');

    const audit = await t.runtime.app.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.subjectId, app.applicationId));
    expect(audit.find((e) => e.action === 'application.updated')?.data).toEqual({
      rateLimitPerMinute: { from: null, to: 120 },
    });

    const cleared = await runEc(
      ['apps', 'update', '--client-id', app.clientId, '--rate-limit', 'default'],
      env(),
    );
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(cleared.stdout).toContain('default (60000/min, 1000/s)');
    const after = JSON.parse((await runEc(['apps', 'list', '--json'], env())).stdout) as {
      client_id: string;
      rate_limit_per_minute: number | null;
    }[];
    expect(after.find((r) => r.client_id === app.clientId)?.rate_limit_per_minute).toBeNull();
  });

  it('exits 2 with a clear message on bad arguments', async () => {
    const app = await t.createApplication();
    for (const [args, message] of [
      [['--rate-limit', 'lots'], /--rate-limit must be a whole number/],
      [['--rate-limit', '-5'], /--rate-limit must be a whole number/],
      [['--rate-limit', '1e9'], /--rate-limit must be a whole number/],
      [['--rate-limit', '100000001'], /from 1 to 100000000/],
      [[], /nothing to update/],
    ] as const) {
      const r = await runEc(['apps', 'update', '--client-id', app.clientId, ...args], env());
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const missing = await runEc(
      ['apps', 'update', '--client-id', 'no-such-client', '--rate-limit', '5'],
      env(),
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not found/);
  });
});

describe('with the limiter’s Redis unreachable', () => {
  it('still answers promptly, limiting per process', async () => {
    const app = await t.createApplication();
    await withServer(
      {
        rateLimit: { perSecond: 1_000, perMinute: 2 },
        config: (c) => ({ ...c, redis: { ...c.redis, url: 'redis://127.0.0.1:1', cluster: null } }),
      },
      async (server) => {
        const request: InjectOptions = {
          method: 'GET',
          url: '/v1/service_accounts/ser_aaaaaaaaaaaaaaaaaaaaaaaaaa',
          headers: { authorization: `Bearer ${app.clientSecret}` },
        };
        const started = Date.now();
        const first = await server.inject(request);
        expect(Date.now() - started).toBeLessThan(1_000);
        expect(first.statusCode).toBe(404);
        expect((await server.inject(request)).statusCode).toBe(404);
        const limited = await server.inject(request);
        expect(limited.statusCode).toBe(429);
        expectRetryAfter(limited.headers['retry-after']);
      },
    );
  });
});
