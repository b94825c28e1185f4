import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { runJsonChild } from '../helpers/json-child.js';
import { googleCredentials, microsoftCredentials, providerFor, sandboxUrls } from './helpers.js';
import type { ListWorkerInput, ListWorkerOutput } from './list-worker.js';

const WORKER = fileURLToPath(new URL('./list-worker.ts', import.meta.url));
const USERS = 100_000;

let sb: Sandbox;

beforeAll(async () => {
  sb = await startSandbox({
    seed: 'provider-scale',
    google: { users: USERS, rooms: 20 },
    microsoft: { users: USERS, rooms: 20 },
    quotas: false,
  });
});

afterAll(async () => {
  await sb?.close();
});

function listInChild(input: ListWorkerInput): Promise<ListWorkerOutput> {
  return runJsonChild<ListWorkerInput, ListWorkerOutput>(WORKER, 'LIST_WORKER_INPUT', input, ['--expose-gc']);
}

describe('listing 100k users', () => {
  it('streams page by page with flat memory (Google, 500 per page)', async () => {
    const r = await listInChild({ urls: sandboxUrls(sb), credentials: googleCredentials(sb), pageSize: 500 });
    process.stdout.write(`google 100k listing: ${JSON.stringify(r)}\n`);
    expect(r.users).toBe(USERS);
    expect(r.pages).toBe(USERS / 500);
    // Holding 100k users would take tens of MB; a streamed listing keeps about one page.
    expect(r.heapDeltaMb).toBeLessThan(15);
  }, 120_000);

  it('streams page by page with flat memory (Microsoft, 999 per page, rooms not counted as users)', async () => {
    const r = await listInChild({
      urls: sandboxUrls(sb),
      credentials: microsoftCredentials(sb),
      pageSize: 999,
    });
    process.stdout.write(`microsoft 100k listing: ${JSON.stringify(r)}\n`);
    expect(r.users).toBe(USERS);
    expect(r.heapDeltaMb).toBeLessThan(15);
  }, 120_000);
});

describe('token reuse', () => {
  it('one token per Google subject and one Microsoft token, however many calls', async () => {
    await sb.control.resetCounters();
    const google = providerFor(googleCredentials(sb), sandboxUrls(sb));
    const microsoft = providerFor(microsoftCredentials(sb), sandboxUrls(sb));
    const gUsers = (await google.listUsersPage(null, { pageSize: 50 })).items.filter(
      (u) => !u.suspended && u.hasMailbox,
    );
    const mUsers = (await microsoft.listUsersPage(null, { pageSize: 50 })).items.filter(
      (u) => !u.suspended && u.hasMailbox,
    );
    const subjects = gUsers.slice(1, 6);
    for (let round = 0; round < 10; round++) {
      await Promise.all([
        ...subjects.map((u) => google.listCalendars(u)),
        ...mUsers.slice(0, 5).map((u) => microsoft.listCalendars(u)),
        google.listUsersPage(null, { pageSize: 10 }),
      ]);
    }
    const { tokensIssued, calls } = await sb.control.counters();
    const calendarCalls = Object.entries(calls)
      .filter(([k]) => k.includes('calendar'))
      .reduce((n, [, v]) => n + v, 0);
    process.stdout.write(`token reuse: ${JSON.stringify({ tokensIssued, calendarCalls })}\n`);
    expect(calendarCalls).toBeGreaterThanOrEqual(100);
    for (const u of subjects) {
      expect(tokensIssued.googleBySubject[u.email.toLowerCase()], u.email).toBe(1);
    }
    expect(tokensIssued.googleBySubject[sb.google?.adminEmail as string]).toBe(1);
    expect(tokensIssued.google).toBe(subjects.length + 1);
    expect(tokensIssued.microsoft).toBe(1);
    await google.close();
    await microsoft.close();
  });
});
