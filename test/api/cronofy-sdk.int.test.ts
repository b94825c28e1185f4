import Cronofy from 'cronofy';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount, usableUsers } from '../helpers/flow.js';
import { useReceiver } from '../helpers/receiver.js';

const t = useTestApp({ sandbox: { google: { users: 30, rooms: 6 }, microsoft: { users: 30, rooms: 6 } } });
const receiver = useReceiver();

const SA_SCOPES = {
  scope: 'service_account/accounts/manage service_account/resources/manage',
  delegated_scope: 'read_write',
};

type Authorization = { authorization: { code?: string; state?: string; email?: string; error_key?: string } };

/** An SDK client pointed at our server, as DESIGN §6 says apps do it. */
function sdk(config: ConstructorParameters<typeof Cronofy>[0]): Cronofy {
  const client = new Cronofy(config);
  client.urls.api = t.url;
  return client;
}

describe.each(['google', 'microsoft'] as const)('the official cronofy SDK end to end (%s)', (provider) => {
  it('register → authorize → signed callback → token → userinfo/profiles/calendars → refresh → revoke → 401', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, provider, app.clientSecret, SA_SCOPES);
    expect(sa.service_account_id).toMatch(/^ser_/);

    const [user] = await usableUsers(t, provider);
    if (!user) {
      throw new Error('no usable user in the sandbox org');
    }
    const callbackUrl = `${receiver.url}/callback/${provider}?email=${encodeURIComponent(user.email)}`;
    const saClient = sdk({
      client_id: app.clientId,
      client_secret: app.clientSecret,
      access_token: sa.access_token,
    });
    const accepted = await saClient.authorizeWithServiceAccount({
      email: user.email,
      callback_url: callbackUrl,
      scope: 'read_events create_event',
      state: `state-${provider}`,
    });
    expect(accepted).toBe('');

    const hit = await receiver.waitFor(
      (r) => r.path === `/callback/${provider}?email=${encodeURIComponent(user.email)}`,
    );
    const callback = hit.json as Authorization;
    expect(callback.authorization.state).toBe(`state-${provider}`);
    expect(callback.authorization.email).toBe(user.email);
    expect(callback.authorization.code, JSON.stringify(callback)).toBeTruthy();
    const signature = hit.headers['cronofy-hmac-sha256'];
    expect(typeof signature).toBe('string');
    expect(saClient.hmacValid({ hmac: String(signature), body: hit.body })).toBe(true);

    const userClient = sdk({ client_id: app.clientId, client_secret: app.clientSecret });
    const token = await userClient.requestAccessToken({
      code: callback.authorization.code ?? '',
      redirect_uri: callbackUrl,
    });
    expect(token.token_type).toBe('bearer');
    expect(token.sub).toMatch(/^acc_/);
    expect(token.account_id).toBe(token.sub);
    expect(token.scope).toBe('read_events create_event');
    const linking = token.linking_profile as Record<string, string>;
    expect(linking.provider_name).toBe(provider === 'google' ? 'google' : 'exchange');
    expect(linking.profile_id).toMatch(/^pro_/);

    // The code is single use.
    await expect(
      userClient.requestAccessToken({ code: callback.authorization.code ?? '', redirect_uri: callbackUrl }),
    ).rejects.toMatchObject({
      statusCode: 400,
    });

    const info = await userClient.userInfo();
    expect(info.sub).toBe(token.sub);
    expect(info['cronofy.type']).toBe('account');
    expect(String(info.email).toLowerCase()).toBe(user.email.toLowerCase());
    const profiles = (await userClient.profileInformation()).profiles as Record<string, unknown>[];
    expect(profiles).toHaveLength(1);
    expect(profiles[0]).toMatchObject({
      profile_connected: true,
      provider_service: provider === 'google' ? 'gsuite' : 'office365',
    });
    const calendars = (await userClient.listCalendars()).calendars as Record<string, unknown>[];
    expect(calendars.length).toBeGreaterThan(0);
    expect(calendars[0]).toMatchObject({ calendar_primary: true, profile_id: linking.profile_id });
    expect(String(calendars[0]?.calendar_id)).toMatch(/^cal_/);
    const account = await userClient.accountInformation();
    expect((account.account as Record<string, unknown>).account_id).toBe(token.sub);

    const oldAccess = userClient.config.access_token;
    const refreshed = await userClient.refreshAccessToken();
    expect(refreshed.access_token).not.toBe(oldAccess);
    expect((await userClient.userInfo()).sub).toBe(token.sub);

    await userClient.revokeAuthorization();
    const revokedClient = sdk({ access_token: String(refreshed.access_token) });
    await expect(revokedClient.userInfo()).rejects.toMatchObject({ statusCode: 401 });
  });
});

describe('service account authorization failures arrive as error callbacks', () => {
  it('reports user_suspended, user_not_found and mailbox_not_enabled with reason codes', async () => {
    const app = await t.createApplication();
    const sa = await registerSandboxServiceAccount(t, 'google', app.clientSecret, SA_SCOPES);
    const domain = t.sandbox.google?.domain ?? '';
    const suspended = await t.sandbox.control.addUser('google', {
      email: `gone.person@${domain}`,
      name: 'Gone Person',
      suspended: true,
    });
    const noMailbox = await t.sandbox.control.addUser('google', {
      email: `no.mailbox@${domain}`,
      name: 'No Mailbox',
      mailbox: false,
    });
    const client = sdk({ access_token: sa.access_token });
    await client.authorizeWithServiceAccount({
      service_account_authorizations: [
        {
          email: suspended.email,
          callback_url: `${receiver.url}/fail/suspended`,
          scope: 'read_only',
          state: 's1',
        },
        {
          email: `nobody@${domain}`,
          callback_url: `${receiver.url}/fail/missing`,
          scope: 'read_only',
          state: 's2',
        },
        {
          email: noMailbox.email,
          callback_url: `${receiver.url}/fail/nomailbox`,
          scope: 'read_only',
          state: 's3',
        },
      ],
    });
    const keyOf = async (path: string) =>
      ((await receiver.waitFor((r) => r.path === path)).json as Authorization).authorization;
    expect(await keyOf('/fail/suspended')).toMatchObject({ error_key: 'user_suspended', state: 's1' });
    expect(await keyOf('/fail/missing')).toMatchObject({ error_key: 'user_not_found', state: 's2' });
    expect(await keyOf('/fail/nomailbox')).toMatchObject({ error_key: 'mailbox_not_enabled', state: 's3' });
  });
});
