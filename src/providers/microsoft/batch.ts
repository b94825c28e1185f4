import { abortable } from '../signals.js';

/** Graph's most requests in one JSON batch (of which it runs at most 4 Outlook requests at a time). */
export const GRAPH_BATCH_MAX = 20;

export type BatchSubResponse = {
  id: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
};
type Queued = { url: string; resolve: (body: unknown) => void; reject: (err: unknown) => void };

/**
 * A Graph error from one response of a batch, shaped as graph-client's GraphError (`statusCode`,
 * `code`, `headers`), so errors.ts maps it exactly as it maps a request sent on its own.
 */
export class GraphBatchError extends Error {
  readonly statusCode: number;
  readonly code: string | null;
  readonly headers: Headers;
  readonly body: unknown;

  constructor(sub: BatchSubResponse) {
    const error = (sub.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    super(
      typeof error?.message === 'string' && error.message ? error.message : `Graph answered ${sub.status}`,
    );
    this.name = 'GraphBatchError';
    this.statusCode = sub.status;
    this.code = typeof error?.code === 'string' ? error.code : null;
    this.headers = new Headers();
    for (const [k, v] of Object.entries(sub.headers ?? {})) {
      if (typeof v === 'string') {
        this.headers.set(k, v);
      }
    }
    this.body = sub.body;
  }
}

/**
 * GET requests gathered into Graph JSON batches (`POST /$batch`, up to 20 requests a round trip):
 * every request made in the same turn of the event loop goes out together, and a full batch goes
 * at once. Each request has been through the limiter already (it is counted as one call, as Graph
 * counts it); only the HTTP round trip is shared. A batch that fails as a whole (network, 5xx, 429 on
 * the envelope) fails each of its requests with that error.
 */
export class GraphBatcher {
  private queue: Queued[] = [];
  private scheduled = false;

  constructor(
    private readonly post: (requests: { id: string; method: 'GET'; url: string }[]) => Promise<unknown>,
    private readonly maxSize: number,
  ) {}

  /** The body of `GET {url}` (relative to the version: `/users/…`), or its Graph error. */
  get<T>(url: string, signal: AbortSignal): Promise<T> {
    const answer = new Promise<T>((resolve, reject) => {
      this.queue.push({ url, resolve: resolve as (body: unknown) => void, reject });
    });
    if (this.queue.length >= this.maxSize) {
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
    return abortable(answer, signal);
  }

  private flush(): void {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxSize);
      void this.send(batch);
    }
  }

  private async send(batch: Queued[]): Promise<void> {
    try {
      const res = await this.post(batch.map((q, i) => ({ id: String(i), method: 'GET', url: q.url })));
      const responses = (res as { responses?: unknown } | null)?.responses;
      const byId = new Map<string, BatchSubResponse>();
      if (Array.isArray(responses)) {
        for (const r of responses as BatchSubResponse[]) {
          if (r && typeof r.id === 'string' && Number.isInteger(r.status)) {
            byId.set(r.id, r);
          }
        }
      }
      batch.forEach((q, i) => {
        const sub = byId.get(String(i));
        if (!sub) {
          // 502: no answer for this request (errors.ts: provider_unavailable, retried by the queue).
          q.reject(
            new GraphBatchError({
              id: String(i),
              status: 502,
              body: {
                error: {
                  code: 'BatchResponseMissing',
                  message: 'The batch response has no answer for this request',
                },
              },
            }),
          );
        } else if (sub.status >= 200 && sub.status < 300) {
          q.resolve(sub.body);
        } else {
          q.reject(new GraphBatchError(sub));
        }
      });
    } catch (err) {
      for (const q of batch) {
        q.reject(err);
      }
    }
  }
}
