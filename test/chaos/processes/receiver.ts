import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The Application's callback endpoint for the chaos scenarios, with the failures a real one has:
 * `ok` answers 200 at once; `down` refuses connections (the port is closed); `500` answers 500;
 * `trickle` reads the callback, then writes its answer one byte a second (a delivery attempt's total
 * deadline must cut it off). Only callbacks answered 200 count as delivered.
 */
export type ReceiverMode = 'ok' | 'down' | '500' | 'trickle';

export type ChaosReceiver = {
  readonly url: string;
  setMode: (mode: ReceiverMode) => Promise<void>;
  /** Distinct emails delivered (answered 200) on `path`. */
  delivered: (path: string) => Set<string>;
  /** Every request seen on `path` by the mode it met, duplicates included. */
  seen: (path: string) => Record<ReceiverMode, number>;
  /** Every authorization code the callbacks carried (for the scan of the processes' logs). */
  codes: () => ReadonlySet<string>;
  /** Delivery ids (`Cronofy-Delivery-Id`-like headers are not sent; the body's email is the key). */
  close: () => Promise<void>;
};

export async function startChaosReceiver(): Promise<ChaosReceiver> {
  let mode: ReceiverMode = 'ok';
  const delivered = new Map<string, Set<string>>();
  const seen = new Map<string, Record<ReceiverMode, number>>();
  const codes = new Set<string>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const handler = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const now = mode;
      const counts = seen.get(path) ?? { ok: 0, down: 0, '500': 0, trickle: 0 };
      counts[now] += 1;
      seen.set(path, counts);
      if (now === '500') {
        res.writeHead(500).end('no');
        return;
      }
      if (now === 'trickle') {
        const answer = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        let i = 0;
        const timer = setInterval(() => {
          if (i >= answer.length || req.socket.destroyed) {
            clearInterval(timer);
            timers.delete(timer);
            return;
          }
          req.socket.write(answer.subarray(i, i + 1));
          i += 1;
        }, 1_000);
        timers.add(timer);
        return;
      }
      let email = '';
      try {
        const { authorization } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          authorization: { email: string; code?: unknown };
        };
        email = authorization.email;
        if (typeof authorization.code === 'string') {
          codes.add(authorization.code);
        }
      } catch {
        // Not a callback: counted, not delivered.
      }
      const set = delivered.get(path) ?? new Set<string>();
      if (email) {
        set.add(email.toLowerCase());
      }
      delivered.set(path, set);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  handler.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  let server: Server | undefined = handler;
  await new Promise<void>((r) => handler.listen(0, '127.0.0.1', r));
  const address = handler.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const stopListening = async () => {
    const s = server;
    server = undefined;
    for (const socket of sockets) {
      socket.destroy();
    }
    if (s) {
      await new Promise<void>((r) => s.close(() => r()));
    }
  };
  return {
    url: `http://127.0.0.1:${port}`,
    setMode: async (next) => {
      if (next === 'down') {
        await stopListening();
      } else if (!server) {
        server = handler;
        await new Promise<void>((r) => handler.listen(port, '127.0.0.1', r));
      }
      mode = next;
    },
    delivered: (path) => delivered.get(path) ?? new Set(),
    seen: (path) => seen.get(path) ?? { ok: 0, down: 0, '500': 0, trickle: 0 },
    codes: () => codes,
    close: async () => {
      for (const t of timers) {
        clearInterval(t);
      }
      await stopListening();
    },
  };
}
