import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';

/**
 * The API reference at /docs in a real browser (Debian's chromium, driven by playwright-core): it
 * renders from the server's own assets, asks no other host for anything, and lists the endpoints.
 */
const CHROMIUM = '/usr/bin/chromium';

const t = useTestApp({ sandbox: { google: false, microsoft: { users: 2, rooms: 1 } } });
let browser: Browser | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe('/docs in a browser', () => {
  it('renders the reference from local assets and lists /oauth/token', async () => {
    if (!browser) {
      throw new Error('no browser');
    }
    const page = await browser.newPage();
    const origin = new URL(t.url).origin;
    const elsewhere: string[] = [];
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (url.origin !== origin && url.protocol !== 'data:') {
        elsewhere.push(req.url());
      }
    });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    const res = await page.goto(`${t.url}/docs`);
    expect(res?.status()).toBe(200);
    await page.getByText('/oauth/token', { exact: true }).first().waitFor({ timeout: 15_000 });
    expect(await page.locator('.opblock-summary-path').count()).toBeGreaterThan(20);
    await expect(page.title()).resolves.toMatch(/Swagger UI/);
    expect(elsewhere).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
