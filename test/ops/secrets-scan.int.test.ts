import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';
import { keysMatching, testRedis } from '../helpers/redis.js';
import { startRun, waitForRun } from '../helpers/runs.js';

// After provisioning runs on Google and Microsoft with every callback's code redeemed: a full
// pg_dump of the database, every log line the service wrote, and every value it keeps in Redis hold
// none of the secrets issued or received in plain text — the client secret, Service Account and
// Account access and refresh tokens, authorization codes, the Google private key, the Microsoft
// client secret.
const run = promisify(execFile);
const t = useTestApp({ sandbox: { google: { users: 12, rooms: 2 }, microsoft: { users: 12, rooms: 2 } } });
const receiver = useReceiver();

type Callback = { authorization: { code?: string; email: string } };

async function redeem(clientId: string, clientSecret: string, code: string, redirectUri: string) {
  const res = await fetch(`${t.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'authorization_code',
      client_id: clientId,
      client_secret: clientSecret,
      code,
      redirect_uri: redirectUri,
    }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { access_token: string; refresh_token: string };
}

/** Every Redis value under this deployment's prefix (strings, hashes, lists, sets), as text. */
async function redisValues(prefix: string): Promise<string> {
  const redis = testRedis();
  try {
    const out: string[] = [];
    for (const key of await keysMatching(redis, `${prefix}*`)) {
      const type = await redis.type(key);
      out.push(key);
      if (type === 'string') {
        out.push((await redis.get(key)) ?? '');
      } else if (type === 'hash') {
        out.push(JSON.stringify(await redis.hgetall(key)));
      } else if (type === 'list') {
        out.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      } else if (type === 'set') {
        out.push(JSON.stringify(await redis.smembers(key)));
      } else if (type === 'zset') {
        out.push(JSON.stringify(await redis.zrange(key, '0', '-1')));
      }
    }
    return out.join('\n');
  } finally {
    redis.disconnect();
  }
}

describe('no secret in plain text anywhere', () => {
  it('pg_dump, every log line and every Redis value, after runs with every code redeemed', async () => {
    const app = await t.createApplication();
    const secrets: Record<string, string> = { 'client secret': app.clientSecret };
    const google = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const microsoft = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret);
    let redeemed = 0;
    for (const [name, sa] of [
      ['google', google],
      ['microsoft', microsoft],
    ] as const) {
      secrets[`${name} Service Account access token`] = sa.access_token;
      secrets[`${name} Service Account refresh token`] = sa.refresh_token;
      const path = `/scan-${name}`;
      const started = await startRun(t, sa.access_token, {
        include: ['users', 'rooms'],
        callback_url: `${receiver.url}${path}`,
      });
      const done = await waitForRun(t, sa.access_token, started.id, 60_000);
      expect(done.counts.provisioned).toBeGreaterThan(5);
      await receiver.waitForCount(
        done.counts.provisioned + done.counts.failed,
        (r) => r.path === path,
        30_000,
      );
      const seen = new Set<string>();
      for (const hit of receiver.received.filter((r) => r.path === path)) {
        const { code, email } = (hit.json as Callback).authorization;
        if (!code) {
          continue;
        }
        secrets[`code ${code.slice(0, 4)} for ${email}`] = code;
        if (seen.has(email)) {
          continue; // Redeemed once: a repeated callback's code is scanned for, not redeemed.
        }
        seen.add(email);
        const tokens = await redeem(app.clientId, app.clientSecret, code, `${receiver.url}${path}`);
        secrets[`access token of ${email}`] = tokens.access_token;
        secrets[`refresh token of ${email}`] = tokens.refresh_token;
        redeemed += 1;
      }
    }
    expect(redeemed).toBeGreaterThan(10);
    // The Google key's PEM body (any 48-character run of it) and the Entra client secret.
    const pem = (t.sandbox.google?.serviceAccountKey.private_key ?? '').replace(/-----[A-Z ]+-----|\s/g, '');
    expect(pem.length).toBeGreaterThan(500);
    for (let i = 0; i + 48 <= pem.length; i += 200) {
      secrets[`private key bytes ${i}`] = pem.slice(i, i + 48);
    }
    secrets['Microsoft client secret'] = t.sandbox.microsoft?.clientSecret ?? '';
    expect(Object.values(secrets).every((s) => s.length >= 16)).toBe(true);

    const { stdout: dump } = await run('pg_dump', ['--no-owner', '--no-privileges', t.config.databaseUrl], {
      maxBuffer: 256 * 1024 * 1024,
    });
    expect(dump).toContain('COPY public.tokens');
    // The scan sees the data: ids stored beside the secrets are there in clear.
    expect(dump).toContain(google.service_account_id);
    expect(dump).toContain(microsoft.service_account_id);
    const logs = t.logs.join('');
    expect(logs.length).toBeGreaterThan(1_000);
    const redis = await redisValues(t.config.redis.queuePrefix);
    const found: string[] = [];
    for (const [what, secret] of Object.entries(secrets)) {
      for (const [where, text] of [
        ['pg_dump', dump],
        ['logs', logs],
        ['redis', redis],
      ] as const) {
        if (text.includes(secret)) {
          found.push(`${what} in ${where}`);
        }
      }
    }
    expect(found).toEqual([]);
    expect(Object.keys(secrets).length).toBeGreaterThan(60);
  }, 180_000);
});
