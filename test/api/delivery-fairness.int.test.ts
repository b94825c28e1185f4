import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboundDeliveries } from '../../src/db/schema/outbound-deliveries.js';
import { deliveryIdFor, type NewOutbound, storeDeliveries } from '../../src/services/deliveries.js';
import { useTestApp } from '../helpers/app.js';
import { useReceiver } from '../helpers/receiver.js';

const t = useTestApp({ sandbox: { google: false, microsoft: { users: 5, rooms: 1 } } });
const fast = useReceiver();

/** A receiver that takes 2 s to answer each callback, or trickles its answer. */
let slow: Server | undefined;
let slowUrl = '';
let slowSeen = 0;
beforeAll(async () => {
  slow = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      slowSeen += 1;
      if (req.url?.startsWith('/trickle')) {
        // A status line one byte a second: only the attempt's total deadline (10 s) ends it.
        const line = 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n';
        let sent = 0;
        const timer = setInterval(() => res.socket?.write(line.charAt(sent++)), 1_000);
        res.on('close', () => clearInterval(timer));
        return;
      }
      setTimeout(() => res.writeHead(200).end('OK'), 2_000);
    });
  });
  await new Promise<void>((resolve) => slow?.listen(0, '127.0.0.1', resolve));
  const address = slow.address();
  slowUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  slow?.closeAllConnections();
  await new Promise<void>((resolve) => (slow ? slow.close(() => resolve()) : resolve()));
});

const outbound = (applicationId: string, url: string, i: number): NewOutbound => ({
  id: deliveryIdFor(`fairness:${applicationId}:${i}`),
  applicationId,
  kind: 'callback',
  url,
  body: { authorization: { error: 'access_denied', email: `user${i}@example.com`, state: String(i) } },
});

describe('the delivery pump shares its slots among Applications', () => {
  it("one Application's slow receiver never holds another Application's callbacks", async () => {
    const busy = await t.createApplication();
    const other = await t.createApplication();
    const db = t.runtime.app.db;
    // 600 callbacks to a receiver that needs 2 s for each, and a few trickling forever...
    await db.transaction((tx) =>
      storeDeliveries(tx, t.runtime.app, [
        ...Array.from({ length: 600 }, (_, i) => outbound(busy.applicationId, `${slowUrl}/slow`, i)),
        ...Array.from({ length: 20 }, (_, i) => outbound(busy.applicationId, `${slowUrl}/trickle`, 1000 + i)),
      ]),
    );
    while (slowSeen < 100) {
      await sleep(20);
    }
    // ...then another Application's 50 callbacks: they go out while the backlog is still there.
    await db.transaction((tx) =>
      storeDeliveries(
        tx,
        t.runtime.app,
        Array.from({ length: 50 }, (_, i) => outbound(other.applicationId, `${fast.url}/other`, i)),
      ),
    );
    const emails = await fast.waitForDistinct(
      50,
      (r) => r.path === '/other',
      (r) => (r.json as { authorization: { email: string } }).authorization.email,
      15_000,
    );
    expect(emails.size).toBe(50);
    const [left] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(outboundDeliveries)
      .where(
        and(
          eq(outboundDeliveries.applicationId, busy.applicationId),
          eq(outboundDeliveries.status, 'pending'),
        ),
      );
    expect(left?.n).toBeGreaterThan(300);
    // The trickling receiver's attempts end at the total deadline and are retried later.
    for (;;) {
      const [trickled] = await db.execute<{ n: number }>(
        sql`select count(*)::int as n from outbound_deliveries where application_id = ${busy.applicationId}
              and url like '%/trickle' and attempts = 1 and last_error like 'timed out%'`,
      );
      if ((trickled?.n ?? 0) === 20) {
        break;
      }
      await sleep(250);
    }
  }, 60_000);
});
