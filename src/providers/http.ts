import { STATUS_CODES } from 'node:http';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import { Agent, request } from 'undici';

/**
 * The providers' HTTP transport: what the Graph client (microsoft/transport.ts) and gaxios
 * (google/transport.ts) send through instead of `fetch`.
 */

type RawHeaders = Record<string, string | string[] | undefined>;

/**
 * A response's headers as graph-client and errors.ts read them (`get`, `has`, iteration), over
 * undici's lower-cased record: no `Headers` object is built per call.
 */
export class ResponseHeaders {
  constructor(private readonly raw: RawHeaders) {}

  get(name: string): string | null {
    const v = this.raw[name.toLowerCase()];
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
  }

  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }

  /** gaxios's error redactor overwrites an authorization header of a failed response in place. */
  set(name: string, value: string): void {
    this.raw[name.toLowerCase()] = value;
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
 * What graph-client and gaxios read of a fetch `Response` (status, ok, headers, url, the body as JSON,
 * text, bytes, a Blob or a stream), over a body already read into memory: provider answers are small
 * JSON. `bodyUsed` is true, as for a fetch Response whose body was read (gaxios keeps an error's
 * parsed body only then).
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

  get bodyUsed(): boolean {
    return true;
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
export function headerRecord(headers: unknown): Record<string, string> {
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
 * Keep-alive connections to the providers for every client of the process (Graph, Google), as many as
 * the calls in flight need (the shared limiter caps those).
 */
const providerAgent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });

export type BufferedRequest = {
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer | undefined;
  signal?: AbortSignal | null | undefined;
  /** Redirects followed (fetch's `redirect: 'follow'` follows 20); none by default. */
  maxRedirections?: number;
};

const decoders: Record<string, (b: Buffer) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
};

/**
 * The body as fetch would hand it over: decoded per `Content-Encoding` (googleapis asks Google for
 * gzip; undici's `request`, unlike fetch, does not decode). An encoding it does not know is left as is.
 */
async function decoded(bytes: Buffer, encoding: string | string[] | undefined): Promise<Buffer> {
  const codings = (Array.isArray(encoding) ? encoding.join(',') : (encoding ?? ''))
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  let out = bytes;
  for (const coding of codings.reverse()) {
    const decode = decoders[coding];
    if (!decode || out.length === 0) {
      return out;
    }
    out = await decode(out);
  }
  return out;
}

/**
 * One request with undici's `request` over the shared keep-alive pool, its answer read into memory
 * and decoded: no fetch Request, Response, Headers or web-stream objects per call.
 */
export async function sendBuffered(url: string, req: BufferedRequest): Promise<BufferedResponse> {
  const res = await request(url, {
    method: req.method as 'GET',
    headers: req.headers,
    ...(req.body !== undefined ? { body: req.body } : {}),
    signal: req.signal ?? undefined,
    ...(req.maxRedirections ? { maxRedirections: req.maxRedirections } : {}),
    dispatcher: providerAgent,
  });
  const bytes = await decoded(Buffer.from(await res.body.arrayBuffer()), res.headers['content-encoding']);
  return new BufferedResponse(res.statusCode, res.headers, url, bytes);
}
