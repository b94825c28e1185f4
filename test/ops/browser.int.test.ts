import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { registerSandboxServiceAccount } from '../helpers/flow.js';
import { type RunJson, startRun, waitForRun } from '../helpers/runs.js';

/**
 * What a person sees in /admin, in a real browser (Debian's chromium, driven by playwright-core):
 * log in with basic auth, open a run that finished cleanly and one with failures, read the counts
 * and reasons, and keep screenshots in test/artifacts/ (not committed).
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const ADMIN_TOKEN = 'browser-admin-token-0123456789';

const t = useTestApp({
  env: { ADMIN_TOKEN },
  sandbox: { google: { users: 80, rooms: 12 }, microsoft: { users: 150, rooms: 6 } },
});
let browser: Browser | undefined;
let clean: RunJson;
let withFailures: RunJson;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-quic',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const app = await t.createApplication();
  const google = await registerSandboxServiceAccount(t, 'google', app.clientSecret);
  const microsoft = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret);
  // Rooms only: nothing in the Google org's rooms fails. Microsoft users include access-denied mailboxes.
  const a = await startRun(t, google.access_token, { include: ['rooms'] });
  const b = await startRun(t, microsoft.access_token, { include: ['users', 'rooms'] });
  clean = await waitForRun(t, google.access_token, a.id);
  withFailures = await waitForRun(t, microsoft.access_token, b.id);
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

async function newPage(password = ADMIN_TOKEN) {
  if (!browser) {
    throw new Error('no browser');
  }
  const context = await browser.newContext({
    httpCredentials: { username: 'admin', password },
    javaScriptEnabled: false,
    viewport: { width: 1400, height: 1000 },
  });
  return { context, page: await context.newPage() };
}

describe('/admin in a browser (JavaScript off)', () => {
  it('refuses a wrong password', async () => {
    const { context, page } = await newPage('not-the-admin-token');
    try {
      const res = await page.goto(`${t.url}/admin`);
      expect(res?.status()).toBe(401);
    } finally {
      await context.close();
    }
  });

  it('shows the overview with both runs', async () => {
    const { context, page } = await newPage();
    try {
      const res = await page.goto(`${t.url}/admin`);
      expect(res?.status()).toBe(200);
      await expect(page.title()).resolves.toContain('Enterprise Connect');
      const runs = page.locator('table').first();
      await expect(runs.textContent()).resolves.toContain(clean.id);
      await expect(runs.textContent()).resolves.toContain(withFailures.id);
      await expect(page.locator('h2').allTextContents()).resolves.toEqual([
        'Provisioning runs',
        'Service Accounts',
        'Disconnected Profiles by reason',
        'Dead-lettered deliveries',
      ]);
      await page.screenshot({ path: `${ARTIFACTS}admin-overview.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('opens a finished run: counts, no failures, no buttons', async () => {
    const { context, page } = await newPage();
    try {
      await page.goto(`${t.url}/admin`);
      await page.click(`a[href="/admin/runs/${clean.id}"]`);
      expect(page.url()).toBe(`${t.url}/admin/runs/${clean.id}`);
      const row = (label: string) =>
        page
          .locator('tr', { has: page.locator(`td:text-is("${label}")`) })
          .locator('td')
          .nth(1);
      await expect(row('Status').textContent()).resolves.toContain('completed');
      await expect(row('Listed').textContent()).resolves.toBe(String(clean.counts.listed));
      await expect(row('Provisioned').textContent()).resolves.toBe(String(clean.counts.provisioned));
      await expect(row('Failed').textContent()).resolves.toBe('0');
      expect(clean.counts.provisioned).toBe(12);
      await expect(page.getByText('No failures.').count()).resolves.toBe(1);
      await expect(page.locator('button').count()).resolves.toBe(0);
      await page.screenshot({ path: `${ARTIFACTS}admin-run-completed.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('opens a run with failures: reasons with their meaning, failed items, and retries them', async () => {
    const { context, page } = await newPage();
    try {
      await page.goto(`${t.url}/admin/runs/${withFailures.id}`);
      const row = (label: string) =>
        page
          .locator('tr', { has: page.locator(`td:text-is("${label}")`) })
          .locator('td')
          .nth(1);
      await expect(row('Status').textContent()).resolves.toContain('completed_with_errors');
      await expect(row('Failed').textContent()).resolves.toBe(String(withFailures.counts.failed));
      await expect(row('Skipped').textContent()).resolves.toBe(String(withFailures.counts.skipped));
      expect(withFailures.counts.failed).toBeGreaterThan(0);
      const body = (await page.textContent('main')) ?? '';
      for (const r of withFailures.failures_by_reason) {
        expect(body).toContain(r.error_key);
      }
      expect(body).toContain('The service account lacks a permission needed for this mailbox');
      // The failed items table lists each failed mailbox.
      const failedRows = page.locator('h2:text-is("Failed items") + table tbody tr');
      await expect(failedRows.count()).resolves.toBe(withFailures.counts.failed);
      await page.screenshot({ path: `${ARTIFACTS}admin-run-with-failures.png`, fullPage: true });

      // The retry button is a plain form POST: it works with JavaScript off.
      await page.click(`button:text("Retry ${withFailures.counts.failed} failed")`);
      expect(page.url()).toContain(
        `/admin/runs/${withFailures.id}?notice=retried:${withFailures.counts.failed}`,
      );
      await expect(page.locator('.notice').textContent()).resolves.toContain(
        `${withFailures.counts.failed} failed item(s) re-queued.`,
      );
      await page.screenshot({ path: `${ARTIFACTS}admin-run-retried.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('opens bull-board at /admin/queues', async () => {
    if (!browser) {
      throw new Error('no browser');
    }
    const context = await browser.newContext({
      httpCredentials: { username: 'admin', password: ADMIN_TOKEN },
      viewport: { width: 1400, height: 900 },
    });
    try {
      const page = await context.newPage();
      const res = await page.goto(`${t.url}/admin/queues`);
      expect(res?.status()).toBe(200);
      await page.getByText('provisioning').first().waitFor({ timeout: 15_000 });
      await page.screenshot({ path: `${ARTIFACTS}admin-queues.png` });
    } finally {
      await context.close();
    }
  });
});
