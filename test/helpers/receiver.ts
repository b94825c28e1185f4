import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll } from 'vitest';

export type Received = { path: string; headers: IncomingHttpHeaders; body: string; json: unknown };

/**
 * A local HTTP server standing in for an Application's callback endpoint: records every POST.
 * `failNext(n, status)` makes the next n requests fail, to exercise retries.
 */
export type Receiver = {
  readonly url: string;
  received: Received[];
  /** Requests answered with a failure by `failNext` (their bodies too). */
  refused: Received[];
  failNext: (n: number, status?: number) => void;
  waitFor: (predicate: (r: Received) => boolean, timeoutMs?: number) => Promise<Received>;
  waitForCount: (n: number, predicate?: (r: Received) => boolean, timeoutMs?: number) => Promise<Received[]>;
  /** Waits until `n` distinct keys (e.g. emails) arrived among matching requests; duplicates count once. */
  waitForDistinct: (
    n: number,
    predicate: (r: Received) => boolean,
    key: (r: Received) => string,
    timeoutMs?: number,
  ) => Promise<Set<string>>;
};

export function useReceiver(): Receiver {
  let server: Server | undefined;
  let url = '';
  let failures = 0;
  let failStatus = 500;
  const received: Received[] = [];
  const refused: Received[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        const hit = { path: req.url ?? '/', headers: req.headers, body, json };
        if (failures > 0) {
          failures -= 1;
          refused.push(hit);
          res.writeHead(failStatus).end('failing on purpose');
          return;
        }
        received.push(hit);
        res.writeHead(200).end('OK');
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    // Connections still open (a delivery under way) are cut, not waited for.
    await new Promise<void>((resolve) => {
      if (!server) {
        return resolve();
      }
      server.close(() => resolve());
      server.closeAllConnections();
    });
  });

  const waitForCount = async (
    n: number,
    predicate: (r: Received) => boolean = () => true,
    timeoutMs = 20_000,
  ) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hits = received.filter(predicate);
      if (hits.length >= n) {
        return hits;
      }
      if (Date.now() > deadline) {
        throw new Error(`receiver: ${hits.length} of ${n} expected requests arrived within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return {
    get url() {
      return url;
    },
    received,
    refused,
    failNext: (n, status = 500) => {
      failures = n;
      failStatus = status;
    },
    waitFor: async (predicate, timeoutMs) => {
      const [first] = await waitForCount(1, predicate, timeoutMs);
      return first as Received;
    },
    waitForCount,
    waitForDistinct: async (n, predicate, key, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const keys = new Set(received.filter(predicate).map(key));
        if (keys.size >= n) {
          return keys;
        }
        if (Date.now() > deadline) {
          throw new Error(
            `receiver: ${keys.size} of ${n} distinct expected requests arrived within ${timeoutMs} ms`,
          );
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}
