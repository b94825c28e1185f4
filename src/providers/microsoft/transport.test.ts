import { GraphError } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingServer, type Seen } from '../../../test/helpers/recording-server.js';
import { callSignal, isAbortOrTimeout } from '../signals.js';
import { createGraphClient } from './graph.js';

let server: Awaited<ReturnType<typeof recordingServer>>;
let base = '';
let seen: Seen[] = [];

beforeAll(async () => {
  server = await recordingServer((req, res, body) => {
    if (req.url?.startsWith('/v1.0/slow')) {
      setTimeout(() => res.end('{}'), 2_000);
      return;
    }
    if (req.url?.startsWith('/v1.0/throttled')) {
      res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '7' });
      res.end(JSON.stringify({ error: { code: 'TooManyRequests', message: 'slow down' } }));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'X-Many': ['a', 'b'] });
    res.end(
      JSON.stringify({ value: [{ id: 'ü', method: req.method, echo: body ? JSON.parse(body) : null }] }),
    );
  });
  base = server.base;
  seen = server.seen;
});

afterAll(() => server.close());

describe('the Graph transport (undici request behind graph-client)', () => {
  const client = () => createGraphClient(base, async () => 'tok-1');

  it('sends what the middleware built (token, method, JSON body) to MICROSOFT_GRAPH_URL and parses the answer', async () => {
    const got = await client().api('/users/a@example.com/calendars').select(['id', 'name']).get();
    expect(got).toEqual({ value: [{ id: 'ü', method: 'GET', echo: null }] });
    const get = seen.at(-1);
    expect(get?.url).toBe('/v1.0/users/a@example.com/calendars?$select=id,name');
    expect(get?.headers.authorization).toBe('Bearer tok-1');
    expect(String(get?.headers.sdkversion)).toMatch(/graph-js/);

    const posted = await client()
      .api('/$batch')
      .post({ requests: [{ id: '1', method: 'GET', url: '/me' }] });
    expect(posted.value[0]).toMatchObject({ method: 'POST', echo: { requests: [{ id: '1' }] } });
    expect(seen.at(-1)?.headers['content-type']).toMatch(/application\/json/);
  });

  it('turns an error answer into a GraphError with its status, code and headers', async () => {
    const err = await client()
      .api('/throttled')
      .get()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GraphError);
    const g = err as GraphError;
    expect(g.statusCode).toBe(429);
    expect(g.code).toBe('TooManyRequests');
    expect(g.headers?.get('Retry-After')).toBe('7');
  });

  it('gives up when the call signal times out, as an abort the adapters recognise', async () => {
    const attempt = callSignal(undefined, 100);
    const started = Date.now();
    const err = await client()
      .api('/slow')
      .option('signal', attempt.signal)
      .get()
      .catch((e: unknown) => e)
      .finally(() => attempt.done());
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(isAbortOrTimeout(err) || (err as GraphError).statusCode === -1).toBe(true);
  });
});
