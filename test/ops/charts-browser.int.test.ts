import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findServiceAccount } from '../../src/db/queries/service-accounts.js';
import { createProvisioningRun, createRunItem } from '../factories/index.js';
import { useTestApp } from '../helpers/app.js';
import { type RegisteredSa, registerSandboxServiceAccount } from '../helpers/flow.js';
import { type RunJson, startRun, waitForRun } from '../helpers/runs.js';

/**
 * The pictures and failure lists of /admin in a real browser with JavaScript off (Debian's chromium
 * driven by playwright-core): the SVG charts are drawn (visible, with their accessible names and
 * legends), the table fallback opens without script, the failure search is a plain GET form and
 * "Next page" goes past 100. Screenshots go to test/artifacts/ (not committed).
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const ADMIN_TOKEN = 'charts-browser-admin-token-0123456789';

const t = useTestApp({
  env: { ADMIN_TOKEN },
  sandbox: { google: { users: 40, rooms: 4 }, microsoft: { users: 120, rooms: 5 } },
});
let browser: Browser | undefined;
let sa: RegisteredSa;
let run: RunJson;
let bigRunId = '';

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
    ],
  });
  const app = await t.createApplication();
  sa = await registerSandboxServiceAccount(t, 'microsoft', app.clientSecret);
  const started = await startRun(t, sa.access_token, { include: ['users', 'rooms'] });
  run = await waitForRun(t, sa.access_token, started.id);
  // A second run with 230 failures, for paging past 100.
  const row = await findServiceAccount(t.runtime.app.db, sa.service_account_id);
  if (!row) {
    throw new Error('no Service Account');
  }
  const big = await createProvisioningRun(t.runtime.app.db, row, {
    status: 'completed_with_errors',
    failed: 230,
  });
  bigRunId = big.id;
  for (let i = 0; i < 230; i++) {
    await createRunItem(t.runtime.app.db, big.id, {
      email: `p${String(i).padStart(3, '0')}@paged.example`,
      status: 'failed',
      errorKey: 'mailbox_not_found',
      errorDescription: 'No mailbox',
    });
  }
}, 180_000);

afterAll(async () => {
  await browser?.close();
});

async function newPage() {
  if (!browser) {
    throw new Error('no browser');
  }
  const context = await browser.newContext({
    httpCredentials: { username: 'admin', password: ADMIN_TOKEN },
    javaScriptEnabled: false,
    viewport: { width: 1400, height: 1000 },
  });
  return { context, page: await context.newPage() };
}

describe('/admin pictures with JavaScript off', () => {
  it("draws a run's progress and provider calls, with names, legends and a table that opens", async () => {
    const { context, page } = await newPage();
    try {
      const res = await page.goto(`${t.url}/admin/runs/${run.id}`);
      expect(res?.status()).toBe(200);
      const progress = page.getByRole('img', { name: /Items decided per minute/ });
      const calls = page.getByRole('img', { name: /Provider calls per minute/ });
      await expect(progress.count()).resolves.toBe(1);
      await expect(calls.count()).resolves.toBe(1);
      const box = await progress.boundingBox();
      expect(box?.width ?? 0).toBeGreaterThan(600);
      expect(box?.height ?? 0).toBeGreaterThan(150);
      // Bars were drawn (a rect per non-empty bucket and status) and the calls as lines.
      await expect(page.locator('#run-progress svg rect[fill="#2e7d32"]').count()).resolves.toBeGreaterThan(
        0,
      );
      await expect(page.locator('#run-progress svg rect[fill="#c62828"]').count()).resolves.toBeGreaterThan(
        0,
      );
      await expect(page.locator('#run-calls svg polyline').count()).resolves.toBe(2);
      const legend = (await page.locator('#run-calls svg').textContent()) ?? '';
      expect(legend).toContain('microsoft.mailbox');
      expect(legend).toContain('microsoft.directory quota');
      // The table fallback: hidden until its summary is clicked (no script needed).
      const table = page.locator('#run-progress table.chart-data');
      await expect(table.isVisible()).resolves.toBe(false);
      await page.locator('#run-progress summary').click();
      await expect(table.isVisible()).resolves.toBe(true);
      const failedColumn = await table.locator('tbody tr td:nth-child(4)').allTextContents();
      expect(failedColumn.length).toBeGreaterThan(0);
      await page.screenshot({ path: `${ARTIFACTS}admin-run-charts.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });

  it("draws a Service Account's Profiles by day", async () => {
    const { context, page } = await newPage();
    try {
      await page.goto(`${t.url}/admin/service-accounts`);
      await page.click(`a[href="/admin/service-accounts/${sa.service_account_id}"]`);
      const chart = page.getByRole('img', { name: /Profiles connected and disconnected, by day/ });
      await expect(chart.count()).resolves.toBe(1);
      expect((await chart.boundingBox())?.height ?? 0).toBeGreaterThan(150);
      // Today's bar is the live count.
      await expect(page.locator('#profiles-days svg rect:has(title)').count()).resolves.toBe(1);
      await page.locator('#profiles-days summary').click();
      const rows = page.locator('#profiles-days table.chart-data tbody tr');
      await expect(rows.count()).resolves.toBe(30);
      await expect(rows.last().locator('td').first().textContent()).resolves.toBe(
        String(run.counts.provisioned),
      );
      await page.screenshot({ path: `${ARTIFACTS}admin-service-account.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('searches failed items with a plain form and pages past 100', async () => {
    const { context, page } = await newPage();
    try {
      await page.goto(`${t.url}/admin/failures`);
      await page.fill('input[name="run"]', bigRunId);
      await page.fill('input[name="email"]', '@PAGED');
      await page.click('button:text("Search")');
      expect(page.url()).toContain(`run=${bigRunId}`);
      const rows = page.locator('table tbody tr');
      const emails = async () => rows.locator('td:first-child').allTextContents();
      const seen = await emails();
      expect(seen).toHaveLength(100);
      await page.click('a:text("Next page →")');
      seen.push(...(await emails()));
      expect(seen).toHaveLength(200);
      await page.click('a:text("Next page →")');
      seen.push(...(await emails()));
      expect(seen).toHaveLength(230);
      expect(new Set(seen).size).toBe(230);
      expect(seen.every((e) => e.endsWith('@paged.example'))).toBe(true);
      await expect(page.locator('a:text("Next page →")').count()).resolves.toBe(0);
      await page.screenshot({ path: `${ARTIFACTS}admin-failures.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('shows the audit log, including the retry just made from a run page', async () => {
    const { context, page } = await newPage();
    try {
      await page.goto(`${t.url}/admin/runs/${run.id}`);
      await page.click(`button:text("Retry ${run.counts.failed} failed")`);
      await page.click('nav a:text("Audit log")');
      const first = page.locator('table tbody tr').first();
      await expect(first.textContent()).resolves.toContain('run.retried');
      await expect(first.textContent()).resolves.toContain(run.id);
      await page.fill('input[name="type"]', 'service_account.created');
      await page.click('button:text("Filter")');
      await expect(page.locator('table tbody tr').count()).resolves.toBe(1);
      await page.screenshot({ path: `${ARTIFACTS}admin-audit.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });
});
