import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type PageCollection, PageIterator } from '@microsoft/microsoft-graph-client';
import { describe, expect, test } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { googleAdmin, googleJwt, graphClient, graphToken, SCOPES, sbGoogle } from './sdk.js';

const BIG = 200_000;
const MB = 1024 * 1024;
/** How much the heap may grow while listing 200k users (200k user objects alone would be ~200 MB). */
const FLAT_HEAP_MB = 40;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / MB;
}

/** 64 bits of SHA-1 per email, kept in a typed array: uniqueness without keeping 200k strings. */
class Fingerprints {
  private readonly values = new BigUint64Array(BIG + 1000);
  count = 0;

  add(text: string): void {
    this.values[this.count] = createHash('sha1').update(text).digest().readBigUInt64BE(0);
    this.count += 1;
  }

  distinct(): number {
    const sorted = this.values.slice(0, this.count).sort();
    let n = sorted.length > 0 ? 1 : 0;
    for (let k = 1; k < sorted.length; k++) {
      if (sorted[k] !== sorted[k - 1]) {
        n += 1;
      }
    }
    return n;
  }
}

function report(what: string, figures: Record<string, number>): void {
  process.stdout.write(`[sandbox scale] ${what}: ${JSON.stringify(figures)}\n`);
}

describe('a 200,000-user org', () => {
  test('Google users.list (maxResults 500) lists every user with flat memory', async () => {
    const sb = await startSandbox({
      seed: 'big',
      google: { users: BIG, rooms: 0 },
      microsoft: false,
      quotas: false,
    });
    try {
      const dir = googleAdmin(sb, googleJwt(sb, sbGoogle(sb).adminEmail, [SCOPES.directoryUsers]));
      const seen = new Fingerprints();
      const before = heapMb();
      let peak = before;
      const started = performance.now();
      let pageToken: string | undefined;
      let pages = 0;
      do {
        const res = await dir.users.list({
          customer: 'my_customer',
          maxResults: 500,
          ...(pageToken ? { pageToken } : {}),
        });
        for (const u of res.data.users ?? []) {
          seen.add(u.primaryEmail ?? '');
        }
        pageToken = res.data.nextPageToken ?? undefined;
        pages += 1;
        if (pages % 100 === 0) {
          peak = Math.max(peak, heapMb());
        }
      } while (pageToken);
      const ms = performance.now() - started;
      const after = heapMb();
      peak = Math.max(peak, after);
      report('google', {
        users: seen.count,
        pages,
        ms: Math.round(ms),
        heapBeforeMb: Math.round(before),
        heapPeakDeltaMb: Math.round(peak - before),
      });
      expect(seen.count).toBe(BIG);
      expect(pages).toBe(BIG / 500);
      expect(seen.distinct()).toBe(BIG);
      expect((await sb.control.state()).google?.users).toBe(BIG);
      expect(peak - before).toBeLessThan(FLAT_HEAP_MB);
    } finally {
      await sb.close();
    }
  });

  test('Graph /users ($top 999, PageIterator) lists every user and room mailbox with flat memory', async () => {
    const sb: Sandbox = await startSandbox({
      seed: 'big',
      google: false,
      microsoft: { users: BIG, rooms: 500 },
      quotas: false,
      graphLinkOrigin: 'https://graph.microsoft.com',
    });
    try {
      const token = await graphToken(sb);
      const client = graphClient(sb, async () => token);
      const seen = new Fingerprints();
      const before = heapMb();
      let peak = before;
      const started = performance.now();
      let disabled = 0;
      const first: PageCollection = await client
        .api('/users?$select=id,userPrincipalName,accountEnabled&$top=999')
        .get();
      const iterator = new PageIterator(client, first, (u: { id: string; accountEnabled: boolean }) => {
        seen.add(u.id);
        if (!u.accountEnabled) {
          disabled += 1;
        }
        if (seen.count % 50_000 === 0) {
          peak = Math.max(peak, heapMb());
        }
        return true;
      });
      await iterator.iterate();
      const ms = performance.now() - started;
      peak = Math.max(peak, heapMb());
      report('microsoft', {
        users: seen.count,
        ms: Math.round(ms),
        heapBeforeMb: Math.round(before),
        heapPeakDeltaMb: Math.round(peak - before),
      });
      expect(seen.count).toBe(BIG + 500);
      expect(seen.distinct()).toBe(BIG + 500);
      // Room mailboxes, shared mailboxes and suspended users are all disabled accounts.
      expect(disabled).toBeGreaterThan(500 + BIG * 0.05);
      expect(peak - before).toBeLessThan(FLAT_HEAP_MB);
    } finally {
      await sb.close();
    }
  });
});

describe('determinism', () => {
  async function rawPages(sb: Sandbox, google: boolean): Promise<string[]> {
    const pages: string[] = [];
    if (google) {
      const token = (
        await googleJwt(sb, sbGoogle(sb).adminEmail, [
          SCOPES.directoryUsers,
          SCOPES.directoryRooms,
        ]).getAccessToken()
      ).token;
      for (const path of [
        '/admin/directory/v1/users?customer=my_customer&maxResults=500',
        '/admin/directory/v1/customer/my_customer/resources/calendars?maxResults=100',
      ]) {
        let next: string | undefined = path;
        while (next) {
          const res = await fetch(`${sb.url}${next}`, { headers: { authorization: `Bearer ${token}` } });
          const text = await res.text();
          pages.push(text);
          const token2 = (JSON.parse(text) as { nextPageToken?: string }).nextPageToken;
          next = token2 ? `${path}&pageToken=${token2}` : undefined;
        }
      }
      return pages;
    }
    const token = await graphToken(sb);
    for (const first of [
      '/v1.0/users?$top=500',
      '/v1.0/places/microsoft.graph.room?$top=100',
      '/v1.0/places/microsoft.graph.roomlist',
    ]) {
      let next: string | undefined = `${sb.url}${first}`;
      while (next) {
        const text = await (await fetch(next, { headers: { authorization: `Bearer ${token}` } })).text();
        // Links carry the sandbox's own origin (a random port): compare everything else byte for byte.
        pages.push(text.replaceAll(sb.url, 'ORIGIN'));
        next = (JSON.parse(text) as { '@odata.nextLink'?: string })['@odata.nextLink'];
      }
    }
    return pages;
  }

  test('the same seed gives the same org, byte for byte; another seed another org', async () => {
    const size = { users: 2500, rooms: 300 };
    const [a, b, c] = await Promise.all([
      startSandbox({ seed: 'same', google: size, microsoft: size }),
      startSandbox({ seed: 'same', google: size, microsoft: size }),
      startSandbox({ seed: 'other', google: size, microsoft: size }),
    ]);
    try {
      for (const google of [true, false]) {
        const [pa, pb, pc] = await Promise.all([
          rawPages(a, google),
          rawPages(b, google),
          rawPages(c, google),
        ]);
        expect(pa.length).toBeGreaterThan(5);
        expect(pb).toEqual(pa);
        expect(pc).not.toEqual(pa);
      }
      expect(a.google?.domain).toBe(b.google?.domain);
      expect(a.microsoft?.tenantId).toBe(b.microsoft?.tenantId);
      expect(c.microsoft?.tenantId).not.toBe(a.microsoft?.tenantId);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});
