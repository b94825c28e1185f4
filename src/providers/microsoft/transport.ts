import { STATUS_CODES } from 'node:http';
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { Agent, request } from 'undici';

type RawHeaders = Record<string, string | string[] | undefined>;

/**
 * A response's headers as graph-client and errors.ts read them (`get`, `has`, iteration), over
 * undici's lower-cased record: no `Headers` object is built per call.
 */
class ResponseHeaders {
  constructor(private readonly raw: RawHeaders) {}

  get(name: string): string | null {
    const v = this.raw[name.toLowerCase()];
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
  }

  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }

  *entries(): IterableIterator<[string, string]> {
    for (const k of Object.keys(this.raw)) {
      const v = this.get(k);
      if (v !== null) {
        yield [k, v];
      }
    }
  }

  *keys(): IterableIterator<string> {
    for (const [k] of this.entries()) {
      yield k;
    }
  }

  *values(): IterableIterator<string> {
    for (const [, v] of this.entries()) {
      yield v;
    }
  }

  forEach(cb: (value: string, key: string, parent: ResponseHeaders) => void): void {
    for (const [k, v] of this.entries()) {
      cb(v, k, this);
    }
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

/**
 * What graph-client reads of a fetch `Response` (status, ok, headers, url, the body as JSON, text,
 * bytes, a Blob or a stream), over a body already read into memory: Graph answers are small JSON.
 */
export class BufferedResponse {
  readonly headers: ResponseHeaders;

  constructor(
    readonly status: number,
    headers: RawHeaders,
    readonly url: string,
    private readonly bytes: Buffer,
  ) {
    this.headers = new ResponseHeaders(headers);
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  get statusText(): string {
    return STATUS_CODES[this.status] ?? '';
  }

  get body(): ReadableStream<Uint8Array> | null {
    return new Response(this.bytes).body;
  }

  async text(): Promise<string> {
    return this.bytes.toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(this.bytes.toString('utf8'));
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return new Uint8Array(this.bytes).buffer;
  }

  async blob(): Promise<Blob> {
    return new Blob([new Uint8Array(this.bytes)], { type: this.headers.get('content-type') ?? '' });
  }

  clone(): BufferedResponse {
    return this;
  }
}

/** Request headers as graph-client's middleware leaves them: a record, a `Headers`, or pairs. */
function headerRecord(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers instanceof Headers) {
    headers.forEach((v, k) => {
      out[k] = v;
    });
  } else if (Array.isArray(headers)) {
    for (const [k, v] of headers as [string, string][]) {
      out[k] = v;
    }
  } else if (typeof headers === 'object' && headers !== null) {
    for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
      if (v !== undefined && v !== null) {
        out[k] = String(v);
      }
    }
  }
  return out;
}

/**
 * Keep-alive connections to Graph for every client of the process, as many as the calls in flight
 * need (the shared limiter caps those).
 */
const graphAgent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });

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
    const url = this.target(context.request);
    const res = await request(url, {
      method: (options.method ?? 'GET') as 'GET',
      headers: headerRecord(options.headers),
      ...(typeof body === 'string' ? { body } : {}),
      signal: options.signal ?? undefined,
      dispatcher: graphAgent,
    });
    const bytes = Buffer.from(await res.body.arrayBuffer());
    context.response = new BufferedResponse(res.statusCode, res.headers, url, bytes) as unknown as Response;
  }
}
