import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { headerRecord, sendBuffered } from '../http.js';

/**
 * The last handler of graph-client's chain: sends the request with undici's `request` instead of
 * `fetch`, whose Request, AbortSignal and stream objects cost about a fifth of a worker's CPU at
 * thousands of mailbox reads a second. Everything before it (auth, retry, redirect, telemetry) runs
 * unchanged; `target` maps the URL (MICROSOFT_GRAPH_URL instead of graph.microsoft.com). A request
 * this handler does not know how to send (a `Request` object, a streamed body) goes through `fetch`.
 */
export class GraphHTTPMessageHandler implements Middleware {
  constructor(private readonly target: (url: string) => string = (url) => url) {}

  async execute(context: Context): Promise<void> {
    const options = context.options ?? {};
    const body = options.body;
    if (
      typeof context.request !== 'string' ||
      !(body === undefined || body === null || typeof body === 'string')
    ) {
      const req = typeof context.request === 'string' ? this.target(context.request) : context.request;
      context.response = await fetch(req, options);
      return;
    }
    const res = await sendBuffered(this.target(context.request), {
      method: options.method ?? 'GET',
      headers: headerRecord(options.headers),
      body: typeof body === 'string' ? body : undefined,
      signal: options.signal,
    });
    context.response = res as unknown as Response;
  }
}
