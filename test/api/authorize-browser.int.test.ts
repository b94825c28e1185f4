import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import Cronofy from 'cronofy';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';

/**
 * The whole authorize flow in a real browser (Debian's chromium, driven by playwright-core): the
 * Enterprise Connect authorize URL, Google picked, a sandbox key pasted, the form submitted, the
 * redirect followed to the Application's redirect URI with `code` and `state` (the page's CSP
 * `form-action` must allow it: browsers check the redirect after a submission too), and the code
 * redeemed with the `cronofy` SDK. Cancel comes back with `error=access_denied`; an Application
 * without registered redirect URIs gets a clear error page.
 */
const CHROMIUM = '/usr/bin/chromium';
const SCOPE = 'service_account/accounts/manage service_account/resources/manage';

const t = useTestApp({ sandbox: { google: { users: 4, rooms: 1 }, microsoft: false }, workers: false });
let browser: Browser | undefined;
/** The Application's own site, where the browser lands with code and state. */
let site: Server | undefined;
let redirectUri = '';
const landed: URL[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  }
  site = createServer((req, res) => {
    landed.push(new URL(req.url ?? '/', redirectUri));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Back at the app</title><h1>Back at the app</h1>');
  });
  await new Promise<void>((resolve) => site?.listen(0, '127.0.0.1', () => resolve()));
  const address = site.address();
  // Another origin than the API's (another port), as an Application's site is.
  redirectUri = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/ec/callback`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (site ? site.close(() => resolve()) : resolve()));
});

function authorizeUrl(clientId: string, state: string): string {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: SCOPE,
    delegated_scope: 'read_write',
    state,
  });
  return `${t.url}/enterprise_connect/oauth/authorize?${q}`;
}

async function openPage(url: string) {
  if (!browser) {
    throw new Error('no browser');
  }
  const page = await browser.newPage();
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused/i.test(m.text())) {
      violations.push(m.text());
    }
  });
  const res = await page.goto(url);
  return { page, res, violations };
}

describe('the authorize flow in a browser', () => {
  it('Google: paste a key, submit, land on the redirect URI with code and state, redeem with the SDK', async () => {
    const app = await t.createApplication([redirectUri]);
    const { page, res, violations } = await openPage(authorizeUrl(app.clientId, 'browser-state'));
    expect(res?.status()).toBe(200);
    const csp = res?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain(`form-action 'self' ${new URL(redirectUri).origin}`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/form-action[^;]*\*/);
    const g = t.sandbox.google;
    await page.selectOption('#provider', 'google');
    await page.fill('#domain', g?.domain ?? '');
    await page.fill('#admin_email', g?.adminEmail ?? '');
    await page.fill('#credentials', JSON.stringify(g?.serviceAccountKey));
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/ec/callback', { timeout: 30_000 }),
      page.click('button[value="connect"]'),
    ]);
    await page.getByText('Back at the app').waitFor();
    const back = new URL(page.url());
    expect(`${back.origin}${back.pathname}`).toBe(redirectUri);
    expect(back.searchParams.get('state')).toBe('browser-state');
    const code = back.searchParams.get('code') ?? '';
    expect(code.length).toBeGreaterThan(20);
    expect(violations).toEqual([]);
    await page.close();

    const client = new Cronofy({ client_id: app.clientId, client_secret: app.clientSecret });
    client.urls.api = t.url;
    const token = await client.requestAccessToken({ code, redirect_uri: redirectUri });
    expect(String(token.service_account_id)).toMatch(/^ser_/);
    expect(token.scope).toBe(SCOPE);
    // A code is redeemed once.
    await expect(client.requestAccessToken({ code, redirect_uri: redirectUri })).rejects.toMatchObject({
      statusCode: 400,
    });
  }, 90_000);

  it('cancel: back at the redirect URI with error=access_denied and the state, no code', async () => {
    const app = await t.createApplication([redirectUri]);
    const { page, violations } = await openPage(authorizeUrl(app.clientId, 'cancelled'));
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/ec/callback', { timeout: 15_000 }),
      page.click('button[value="cancel"]'),
    ]);
    const back = new URL(page.url());
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe('cancelled');
    expect(back.searchParams.get('code')).toBeNull();
    expect(violations).toEqual([]);
    await page.close();
  }, 60_000);

  it('an Application without registered redirect URIs gets a clear error page, never a redirect', async () => {
    const app = await t.createApplication([]);
    const before = landed.length;
    const { page, res } = await openPage(authorizeUrl(app.clientId, 'nowhere'));
    expect(res?.status()).toBe(400);
    await expect(page.locator('.error').textContent()).resolves.toContain('no registered redirect URIs');
    expect(page.url().startsWith(t.url)).toBe(true);
    await page.close();
    // Posting the form straight away is refused the same way.
    const post = await fetch(`${t.url}/enterprise_connect/oauth/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: app.clientId,
        redirect_uri: redirectUri,
        scope: SCOPE,
        action: 'cancel',
        csrf: 'x',
      }).toString(),
    });
    expect(post.status).toBe(400);
    expect(post.headers.get('location')).toBeNull();
    expect(landed.length).toBe(before);
  }, 60_000);
});
