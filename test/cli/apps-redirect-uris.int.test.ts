import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { runEc } from '../helpers/cli.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';

// An Application without registered redirect URIs cannot use the authorize page (it would hand a
// code to any address a link names); `ec apps update --redirect-uri` registers them afterwards.
const t = useTestApp({ sandbox: { google: false, microsoft: { users: 2, rooms: 0 } }, workers: false });
const env = () => ({
  DATABASE_URL: t.config.databaseUrl,
  ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
  LOG_LEVEL: 'silent',
});
const REDIRECT = 'https://app.example.com/ec/callback';

const page = (clientId: string) =>
  fetch(
    `${t.url}/enterprise_connect/oauth/authorize?${new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      scope: 'service_account/accounts/manage',
      state: 's',
    })}`,
  );

describe('ec apps update --redirect-uri', () => {
  it('registers redirect URIs for an Application created without them; the authorize page then opens', async () => {
    const app = await t.createApplication([]);
    const before = await page(app.clientId);
    expect(before.status).toBe(400);
    expect(await before.text()).toContain('no registered redirect URIs');

    const bad = await runEc(
      ['apps', 'update', '--client-id', app.clientId, '--redirect-uri', 'ftp://x'],
      env(),
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/must use http or https/);

    const ok = await runEc(
      [
        'apps',
        'update',
        '--client-id',
        app.clientId,
        '--redirect-uri',
        REDIRECT,
        '--redirect-uri',
        `${REDIRECT}/2`,
      ],
      env(),
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`redirect URIs ${REDIRECT} ${REDIRECT}/2`);
    expect((await page(app.clientId)).status).toBe(200);
    const list = JSON.parse((await runEc(['apps', 'list', '--json'], env())).stdout) as {
      client_id: string;
      redirect_uris: string[];
    }[];
    expect(list.find((a) => a.client_id === app.clientId)?.redirect_uris).toEqual([
      REDIRECT,
      `${REDIRECT}/2`,
    ]);
  }, 60_000);
});
