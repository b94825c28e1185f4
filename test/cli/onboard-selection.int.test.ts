import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { runEc } from '../helpers/cli.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';

const t = useTestApp({ sandbox: { google: { users: 120, rooms: 4, structure: true }, microsoft: false } });

const env = () => ({
  DATABASE_URL: t.config.databaseUrl,
  REDIS_URL: t.config.redis.url,
  QUEUE_PREFIX: t.config.redis.queuePrefix,
  ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
  GOOGLE_TOKEN_URL: `${t.sandbox.url}/token`,
  GOOGLE_API_URL: t.sandbox.url,
  LOG_LEVEL: 'silent',
});

describe('ec onboard with a selection', () => {
  it('takes --emails file.csv and --org-unit-only, and shows the effect of a dry run', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const users = (await t.sandbox.control.listUsers('google', { offset: 0, limit: 1000 })).users;
    const listed = users.filter((u) => !u.admin).slice(0, 15);
    const apps = users.filter((u) => u.orgUnitPath === '/Engineering/Apps');
    const dir = await mkdtemp(join(tmpdir(), 'ec-onboard-'));
    const file = join(dir, 'people.csv');
    await writeFile(
      file,
      [
        'Name,Email',
        ...listed.map((u) => `"${u.name.replace(/"/g, '""')}",${u.email}`),
        'Ghost,ghost@nowhere.example.com',
      ].join('\r\n'),
    );
    const r = await runEc(
      [
        'onboard',
        '--service-account',
        sa.service_account_id,
        '--emails',
        file,
        '--org-unit-only',
        '/Engineering/Apps',
        '--dry-run',
        '--verify',
        'directory',
        '--watch',
        '--json',
      ],
      env(),
      120_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const view = JSON.parse(r.stdout) as {
      status: string;
      selection: { org_units: unknown[]; emails: number };
      counts: { listed: number };
      skipped_by_reason: { error_key: string; count: number }[];
    };
    expect(view.status).toBe('completed');
    expect(view.selection).toMatchObject({
      org_units: [{ path: '/Engineering/Apps', include_children: false }],
      emails: 16,
    });
    const selected = new Set([...listed, ...apps].map((u) => u.email));
    expect(view.counts.listed).toBe(selected.size + 1);
    expect(view.skipped_by_reason).toContainEqual({ error_key: 'user_not_found', count: 1 });
  });

  it('refuses an unknown org unit and a bad file with exit code 2 and the reason', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
    const unknown = await runEc(
      ['onboard', '--service-account', sa.service_account_id, '--org-unit', '/Nowhere'],
      env(),
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/selection\.org_units: org unit "\/Nowhere" does not exist/);
    const dir = await mkdtemp(join(tmpdir(), 'ec-onboard-'));
    const binary = join(dir, 'bad.csv');
    await writeFile(binary, Buffer.from([0x61, 0x40, 0xff, 0xfe, 0x2e, 0x63]));
    const bad = await runEc(
      ['onboard', '--service-account', sa.service_account_id, '--emails', binary],
      env(),
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not UTF-8 text');
    const missing = await runEc(
      ['onboard', '--service-account', sa.service_account_id, '--emails', join(dir, 'none.csv')],
      env(),
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read');
  });
});
