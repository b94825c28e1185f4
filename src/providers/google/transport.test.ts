import { Agent } from 'node:http';
import { gzipSync } from 'node:zlib';
import { gaxios } from 'google-auth-library';
import { calendar_v3 } from 'googleapis/build/src/apis/calendar/v3.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingServer, type Seen } from '../../../test/helpers/recording-server.js';
import { callSignal, isAbortOrTimeout } from '../signals.js';
import { ProviderRateLimitedError } from '../types.js';
import { googleError } from './errors.js';
import { createGoogleHttp } from './transport.js';

let server: Awaited<ReturnType<typeof recordingServer>>;
let base = '';
let seen: Seen[] = [];

beforeAll(async () => {
  server = await recordingServer((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith('/slow')) {
      setTimeout(() => res.end('{}'), 2_000);
      return;
    }
    if (url.startsWith('/moved')) {
      res.writeHead(302, { Location: '/calendar/v3/users/me/calendarList' }).end();
      return;
    }
    if (url.startsWith('/token')) {
      res.writeHead(400, { 'Content-Type': 'application/json', 'Retry-After': '9' });
      res.end(JSON.stringify({ error: 'invalid_grant', error_description: 'Invalid email or User ID' }));
      return;
    }
    if (url.includes('/calendars/throttled')) {
      res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '7' });
      res.end(
        JSON.stringify({
          error: { code: 429, message: 'Rate Limit Exceeded', errors: [{ reason: 'rateLimitExceeded' }] },
        }),
      );
      return;
    }
    const answer = JSON.stringify({ kind: 'calendar#calendarList', items: [{ id: 'ü@example.com' }] });
    if (/\bgzip\b/.test(String(req.headers['accept-encoding']))) {
      // As Google does when asked: googleapis sends Accept-Encoding: gzip.
      res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8', 'Content-Encoding': 'gzip' });
      res.end(gzipSync(answer));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8' });
    res.end(answer);
  });
  base = server.base;
  seen = server.seen;
});

afterAll(() => server.close());

/** GoogleAuthPool's HTTP client, and a bearer `auth` for googleapis as GoogleAuthPool.bearer makes. */
function clients(timeoutMs = 5_000) {
  const http = createGoogleHttp(timeoutMs);
  const auth = {
    request: (opts: gaxios.GaxiosOptions) =>
      http.request({
        ...opts,
        headers: gaxios.Gaxios.mergeHeaders(opts.headers, { authorization: 'Bearer t-1' }),
      }),
  };
  const calendar = new calendar_v3.Calendar({ rootUrl: `${base}/` });
  return { http, auth: auth as never, calendar };
}

describe('the Google transport (undici request behind gaxios)', () => {
  it('sends a googleapis call with its token and parses the JSON answer, gzip-encoded as Google sends it', async () => {
    const { auth, calendar } = clients();
    const res = await calendar.calendarList.list({ auth, maxResults: 5 });
    expect(res.status).toBe(200);
    expect(res.data.items?.[0]?.id).toBe('ü@example.com');
    expect((res.headers as unknown as Headers).get('content-encoding')).toBe('gzip');
    const got = seen.at(-1);
    expect(got?.url).toBe('/calendar/v3/users/me/calendarList?maxResults=5');
    expect(got?.headers.authorization).toBe('Bearer t-1');
    expect(got?.headers['accept-encoding']).toMatch(/gzip/);
  });

  it('posts form fields as the token endpoint expects, and hands a refusal to googleError intact', async () => {
    const { http } = clients();
    const err = await http
      .request({
        url: `${base}/token`,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        data: new URLSearchParams({ grant_type: 'jwt', assertion: 'a.b.c' }).toString(),
        signal: AbortSignal.timeout(2_000),
      })
      .catch((e: unknown) => e);
    expect(seen.at(-1)?.body).toBe('grant_type=jwt&assertion=a.b.c');
    expect(seen.at(-1)?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(err).toBeInstanceOf(gaxios.GaxiosError);
    expect((err as gaxios.GaxiosError).status).toBe(400);
    expect((err as gaxios.GaxiosError).response?.data).toEqual({
      error: 'invalid_grant',
      error_description: 'Invalid email or User ID',
    });
    // The error's copy of the request no longer shows the assertion (gaxios's redactor ran).
    expect(JSON.stringify((err as gaxios.GaxiosError).config.data)).not.toContain('a.b.c');
    expect(googleError(err, 'token').reason).toBe('user_not_found');
  });

  it('keeps an API error’s status, reason and Retry-After for the error mapping', async () => {
    const { auth, calendar } = clients();
    const err = await calendar.calendars.get({ auth, calendarId: 'throttled' }).catch((e: unknown) => e);
    expect((err as gaxios.GaxiosError).status).toBe(429);
    const mapped = googleError(err, 'calendar');
    expect(mapped).toBeInstanceOf(ProviderRateLimitedError);
    expect((mapped as ProviderRateLimitedError).retryAfterMs).toBe(7_000);
  });

  it('leaves a request with an agent of its own (HTTPS_PROXY, mTLS) to gaxios’s fetch', async () => {
    const { http } = clients();
    await http.request({ url: `${base}/plain`, signal: AbortSignal.timeout(2_000) });
    // undici's request adds no Accept-Encoding of its own ...
    expect(seen.at(-1)?.headers['accept-encoding']).toBeUndefined();
    const agent = new Agent({ keepAlive: true });
    try {
      const res = await http.request<{ items: unknown[] }>({
        url: `${base}/plain`,
        agent,
        signal: AbortSignal.timeout(2_000),
      });
      expect(res.data.items).toHaveLength(1);
      // ... node-fetch, gaxios's own fetch, asks for compressed answers.
      expect(seen.at(-1)?.headers['accept-encoding']).toMatch(/gzip/);
    } finally {
      agent.destroy();
    }
  });

  it('follows a redirect as fetch does', async () => {
    const { http } = clients();
    const res = await http.request<{ items: unknown[] }>({
      url: `${base}/moved`,
      signal: AbortSignal.timeout(2_000),
    });
    expect(res.status).toBe(200);
    expect(res.data.items).toHaveLength(1);
  });

  it('gives up when the call signal times out, and bounds a call that brought no signal', async () => {
    const { http, auth, calendar } = clients(150);
    const attempt = callSignal(undefined, 100);
    let started = Date.now();
    const err = await calendar.calendarList
      .list({ auth }, { signal: attempt.signal, rootUrl: `${base}/slow/` } as never)
      .catch((e: unknown) => e)
      .finally(() => attempt.done());
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(isAbortOrTimeout(err) || isAbortOrTimeout((err as { cause?: unknown }).cause)).toBe(true);

    started = Date.now();
    const bare = await http.request({ url: `${base}/slow` }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(bare).toBeInstanceOf(gaxios.GaxiosError);
  });
});
