import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Keyring } from '../../src/lib/crypto.js';
import {
  authenticateClientSecret,
  createApplication,
  removeOldSecrets,
  rotateSecret,
  signingSecrets,
} from '../../src/services/applications.js';
import { TEST_ENCRYPTION_KEYS } from '../helpers/config.js';
import { useTestDatabase } from '../helpers/db.js';

const t = useTestDatabase();
const [id, b64] = TEST_ENCRYPTION_KEYS.split(':') as [string, string];
const keyring = new Keyring([{ id, key: Buffer.from(b64, 'base64') }]);
const deps = () => ({ db: t.db, keyring });

describe('Applications', () => {
  it('creates an Application whose secret authenticates and signs', async () => {
    const created = await createApplication(deps(), {
      name: 'Booking app',
      redirectUris: ['https://app.example.com/cb', 'http://localhost:3000/cb'],
      actor: 'test',
    });
    expect(created.clientId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(created.clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const app = await authenticateClientSecret(deps(), created.clientSecret);
    expect(app?.id).toBe(created.application.id);
    expect(await authenticateClientSecret(deps(), `${created.clientSecret}x`)).toBeUndefined();
    expect(await signingSecrets(deps(), created.application.id)).toEqual([created.clientSecret]);
  });

  it('rejects bad names and redirect URIs with a clear message', async () => {
    await expect(createApplication(deps(), { name: ' ', redirectUris: [], actor: 'test' })).rejects.toThrow(
      /name/,
    );
    await expect(
      createApplication(deps(), { name: 'x', redirectUris: ['javascript:alert(1)'], actor: 'test' }),
    ).rejects.toThrow(/must use http or https/);
    await expect(
      createApplication(deps(), { name: 'x', redirectUris: ['https://a.example.com/#frag'], actor: 'test' }),
    ).rejects.toThrow(/fragment/);
  });

  it('rotates secrets without downtime: both sign until the old one is removed', async () => {
    const created = await createApplication(deps(), { name: 'Rotating', redirectUris: [], actor: 'test' });
    const rotated = await rotateSecret(deps(), { clientId: created.clientId, actor: 'test' });
    expect(rotated.activeSecrets).toBe(2);
    expect(await signingSecrets(deps(), created.application.id)).toEqual([
      rotated.clientSecret,
      created.clientSecret,
    ]);
    expect((await authenticateClientSecret(deps(), created.clientSecret))?.id).toBe(created.application.id);

    expect(await removeOldSecrets(deps(), { clientId: created.clientId, actor: 'test' })).toEqual({
      revoked: 1,
    });
    expect(await authenticateClientSecret(deps(), created.clientSecret)).toBeUndefined();
    expect((await authenticateClientSecret(deps(), rotated.clientSecret))?.id).toBe(created.application.id);
    expect(await signingSecrets(deps(), created.application.id)).toEqual([rotated.clientSecret]);
    await expect(rotateSecret(deps(), { clientId: 'nope', actor: 'test' })).rejects.toThrow(/not found/);
  });

  it('never stores a client secret in plain text (checked on a full pg_dump)', async () => {
    const created = await createApplication(deps(), { name: 'Dumped', redirectUris: [], actor: 'test' });
    const rotated = await rotateSecret(deps(), { clientId: created.clientId, actor: 'test' });
    const { stdout } = await promisify(execFile)('pg_dump', ['--data-only', t.url], {
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(stdout).toContain(created.clientId);
    expect(stdout).not.toContain(created.clientSecret);
    expect(stdout).not.toContain(rotated.clientSecret);
  });
});
