import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { runEc } from '../helpers/cli.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';

const t = useTestApp({ sandbox: { google: { users: 60, rooms: 12 }, microsoft: false } });

const env = () => ({
  DATABASE_URL: t.config.databaseUrl,
  REDIS_URL: t.config.redis.url,
  QUEUE_PREFIX: t.config.redis.queuePrefix,
  ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
  GOOGLE_TOKEN_URL: `${t.sandbox.url}/token`,
  GOOGLE_API_URL: t.sandbox.url,
  LOG_LEVEL: 'silent',
});

describe('ec onboard and ec runs', () => {
  it('starts a run, follows it to the end and prints the counts and reasons', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const r = await runEc(
      ['onboard', '--service-account', sa.service_account_id, '--users', '--watch', '--json'],
      env(),
      120_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const view = JSON.parse(r.stdout) as {
      id: string;
      status: string;
      counts: { listed: number; provisioned: number; skipped: number; failed: number };
    };
    expect(view.status).toMatch(/^completed/);
    expect(view.counts.listed).toBe(60);
    expect(view.counts.provisioned + view.counts.skipped + view.counts.failed).toBe(60);
    expect(r.stderr).toContain('completed');

    const show = await runEc(['runs', 'show', view.id], env());
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(view.id);
    expect(show.stdout).toMatch(/user_suspended\s+\d+/);

    const list = await runEc(['runs', 'list', '--json'], env());
    expect((JSON.parse(list.stdout) as { id: string }[]).map((x) => x.id)).toContain(view.id);

    const retry = await runEc(['runs', 'retry', view.id, '--json'], env());
    expect(retry.code, retry.stderr).toBe(0);
    expect(JSON.parse(retry.stdout)).toEqual({ requeued: view.counts.failed });
  });

  it('rejects bad arguments with exit code 2 and a clear message', async () => {
    const bad = await runEc(['onboard', '--service-account', 'acc_nope'], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not a Service Account id');
    const verify = await runEc(
      ['onboard', '--service-account', 'ser_aaaaaaaaaaaaaaaaaaaaaaaaaa', '--verify', 'vibes'],
      env(),
    );
    expect(verify.code).toBe(2);
    expect(verify.stderr).toContain('--verify');
    const missing = await runEc(['runs', 'show', 'run_aaaaaaaaaaaaaaaaaaaaaaaaaa'], env());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not found');
  });
});
