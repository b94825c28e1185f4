import { gaxios } from 'google-auth-library';
import { headerRecord, sendBuffered } from '../http.js';

type Prepared = gaxios.GaxiosOptionsPrepared;

/** Redirects a fetch follows by default (the fetch standard's limit). */
const FETCH_MAX_REDIRECTS = 20;

/**
 * A request gaxios has prepared that `sendBuffered` sends as fetch would: no agent of its own (gaxios
 * sets one for HTTPS_PROXY or mTLS: those go through gaxios's own fetch), a body that is absent, text,
 * bytes or form fields, redirects followed, and an answer wanted whole (not as a stream).
 */
function sendsAsFetch(opts: Prepared): boolean {
  const body: unknown = opts.body;
  return (
    opts.agent === undefined &&
    opts.responseType !== 'stream' &&
    (opts.redirect === undefined || opts.redirect === 'follow') &&
    (body === undefined ||
      body === null ||
      typeof body === 'string' ||
      Buffer.isBuffer(body) ||
      body instanceof URLSearchParams)
  );
}

/** fetch's signature over `sendBuffered`, for the requests `sendsAsFetch` accepts. */
const bufferedFetch = (async (input: string | URL, init: RequestInit = {}) => {
  const headers = headerRecord(init.headers);
  let body = init.body as string | Buffer | URLSearchParams | null | undefined;
  if (body instanceof URLSearchParams) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
    body = body.toString();
  }
  return sendBuffered(String(input), {
    method: init.method ?? 'GET',
    headers,
    body: body ?? undefined,
    signal: init.signal,
    maxRedirections: FETCH_MAX_REDIRECTS,
  });
}) as unknown as typeof fetch;

/**
 * gaxios's adapter for every Google call (googleapis and the token endpoint): gaxios still prepares the
 * request, reads the answer and raises its errors, but the request goes out with undici's `request`
 * over one keep-alive pool instead of node-fetch (about a fifth of a Google worker's CPU at mailbox
 * verification: its Request, Headers, AbortSignal and stream objects per call). Requests it does not
 * send as fetch would (see `sendsAsFetch`) go through gaxios's own fetch unchanged.
 *
 * The timeout: every call of ours passes a signal that carries it (callSignal), so gaxios is given no
 * `timeout` of its own (it would add a second timer and an `AbortSignal.any` per call); a request
 * without a signal gets one here.
 */
function googleAdapter(timeoutMs: number): NonNullable<gaxios.GaxiosOptions['adapter']> {
  return (opts, defaultAdapter) => {
    opts.signal ??= AbortSignal.timeout(timeoutMs);
    if (sendsAsFetch(opts)) {
      opts.fetchImplementation = bufferedFetch;
    }
    return defaultAdapter(opts);
  };
}

/**
 * The one HTTP client of a Google adapter (googleapis calls and the token endpoint): no retries
 * anywhere (the queue owns the retry policy), sent through `googleAdapter`, which owns the timeout.
 */
export function createGoogleHttp(timeoutMs: number): gaxios.Gaxios {
  return new gaxios.Gaxios({ retry: false, retryConfig: { retry: 0 }, adapter: googleAdapter(timeoutMs) });
}
