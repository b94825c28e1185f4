import { describe, expect, it } from 'vitest';
import { Keyring } from '../../src/lib/crypto.js';
import { authenticateClientSecret } from '../../src/services/applications.js';
import { runEc } from '../helpers/cli.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';
import { useTestDatabase } from '../helpers/db.js';

const t = useTestDatabase();
const env = () => ({ DATABASE_URL: t.url, ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS, LOG_LEVEL: 'silent' });

describe('ec CLI', () => {
  it('prints help listing the pinned commands', async () => {
    const r = await runEc(['--help']);
    expect(r.code).toBe(0);
    for (const command of ['migrate', 'apps', 'keys', 'sandbox']) {
      expect(r.stdout).toContain(command);
    }
  });

  it('`apps create --json` prints exactly the credentials, and they work', async () => {
    const r = await runEc(
      [
        'apps',
        'create',
        '--name',
        'CLI app',
        '--redirect-uri',
        'https://a.example.com/cb',
        '--redirect-uri',
        'https://b.example.com/cb',
        '--json',
      ],
      env(),
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, string>;
    expect(Object.keys(out)).toEqual(['client_id', 'client_secret']);
    expect(r.stdout.trim()).toBe(JSON.stringify(out));
    const [id, b64] = TEST_ENCRYPTION_KEYS.split(':') as [string, string];
    const app = await authenticateClientSecret(
      { db: t.db, keyring: new Keyring([{ id, key: Buffer.from(b64, 'base64') }]) },
      out.client_secret ?? '',
    );
    expect(app?.clientId).toBe(out.client_id);
    expect(app?.redirectUris).toEqual(['https://a.example.com/cb', 'https://b.example.com/cb']);

    const list = await runEc(['apps', 'list', '--json'], env());
    expect(list.code).toBe(0);
    const apps = JSON.parse(list.stdout) as { client_id: string; active_secrets: number }[];
    expect(apps.find((a) => a.client_id === out.client_id)?.active_secrets).toBe(1);
    expect(list.stdout).not.toContain(out.client_secret);

    const rotated = await runEc(
      ['apps', 'rotate-secret', '--client-id', out.client_id ?? '', '--json'],
      env(),
    );
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(JSON.parse(rotated.stdout).client_secret).not.toBe(out.client_secret);
  });

  it('rejects a bad redirect URI with exit code 2 and a clear message', async () => {
    const r = await runEc(['apps', 'create', '--name', 'x', '--redirect-uri', 'ftp://nope'], env());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('must use http or https');
    expect(r.stderr).not.toContain('at ');
  });

  it('names every bad environment variable in one message and exits non-zero', async () => {
    const r = await runEc(['apps', 'list'], {
      DATABASE_URL: 'mysql://localhost/x',
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      REDIS_URL: 'http://nope',
    });
    expect(r.code).not.toBe(0);
    for (const name of ['DATABASE_URL', 'PORT', 'LOG_LEVEL', 'REDIS_URL', 'ENCRYPTION_KEYS']) {
      expect(r.stderr).toContain(`${name}:`);
    }
    expect(r.stderr.match(/Invalid configuration/g)?.length).toBe(1);
  });

  it('says how to start Postgres when it cannot be reached', async () => {
    const r = await runEc(['migrate'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Cannot reach Postgres');
    expect(r.stderr).toContain('docker compose up');
  });

  it('`migrate` on an up-to-date database changes nothing', async () => {
    const r = await runEc(['migrate', '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ applied: 0 });
  });

  it('`keys rotate` re-encrypts under a new first key', async () => {
    const newKey = `k2:${Buffer.alloc(32, 9).toString('base64')}`;
    const r = await runEc(['keys', 'rotate', '--json'], {
      ...env(),
      ENCRYPTION_KEYS: `${newKey},${TEST_ENCRYPTION_KEYS}`,
    });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { table: string; reencrypted: number; remaining: number }[];
    expect(report.find((x) => x.table === 'application_secrets')?.reencrypted).toBeGreaterThanOrEqual(2);
    expect(report.every((x) => x.remaining === 0)).toBe(true);
  });
});
