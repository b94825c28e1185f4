import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app.js';
import { type OwnRedis, ownRedis } from '../helpers/own-redis.js';

// Redis down: /metrics answers within ~2 s with what Postgres and this process know, marked
// partial (ec_metrics_source_up{source="redis"} 0); bull-board's API answers 503 with Retry-After
// instead of waiting in the connection's offline queue. Our own Redis: the shared one is never stopped.
let redis: OwnRedis | undefined;
beforeAll(async () => {
  redis = await ownRedis();
  await redis.start();
});
afterAll(async () => {
  await redis?.stop();
});

const ADMIN_TOKEN = 'admin-token-for-redis-down-0123456';
const METRICS_TOKEN = 'metrics-token-for-redis-down-01234';
const t = useTestApp({
  workers: false,
  env: {
    ADMIN_TOKEN,
    METRICS_TOKEN,
    get REDIS_URL() {
      return redis?.url ?? '';
    },
    REDIS_CLUSTER_NODES: '',
  },
});

async function timed(path: string, token: string) {
  const started = performance.now();
  const res = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, ms: performance.now() - started };
}

const sourceUp = (text: string, source: string) =>
  new RegExp(`^ec_metrics_source_up\\{source="${source}"\\} (\\d)$`, 'm').exec(text)?.[1];

describe('/metrics and bull-board with Redis down', () => {
  it('answer within ~2 s: partial metrics marked as such, 503 from the queues API', async () => {
    const before = await timed('/metrics', METRICS_TOKEN);
    expect(before.status).toBe(200);
    expect(sourceUp(before.text, 'redis')).toBe('1');
    expect(before.text).toMatch(/^ec_queue_jobs\{/m);
    expect((await timed('/admin/queues/api/queues', ADMIN_TOKEN)).status).toBe(200);

    await redis?.stop();
    // Figures are cached for 2 s (cacheMs): a scrape right after the stop may still show the last ones.
    await new Promise((r) => setTimeout(r, 2_100));
    for (let i = 0; i < 3; i++) {
      const m = await timed('/metrics', METRICS_TOKEN);
      expect(m.status, m.text).toBe(200);
      expect(m.ms).toBeLessThan(2_000);
      expect(sourceUp(m.text, 'redis')).toBe('0');
      expect(sourceUp(m.text, 'postgres')).toBe('1');
      expect(m.text).not.toMatch(/^ec_queue_jobs\{/m);
      expect(m.text).toMatch(/^ec_runs|^# HELP ec_runs/m);

      const api = await timed('/admin/queues/api/queues', ADMIN_TOKEN);
      expect(api.status, api.text).toBe(503);
      expect(api.ms).toBeLessThan(2_000);
      expect(Number(api.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((JSON.parse(api.text) as { error: { code: string } }).error.code).toBe('service_unavailable');
      expect(api.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
    }
    // The page itself needs no Redis.
    const page = await timed('/admin/queues', ADMIN_TOKEN);
    expect(page.status).toBe(200);
    expect(page.ms).toBeLessThan(2_000);

    await redis?.start();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const m = await timed('/metrics', METRICS_TOKEN);
      const api = await timed('/admin/queues/api/queues', ADMIN_TOKEN);
      if (sourceUp(m.text, 'redis') === '1' && api.status === 200) {
        break;
      }
      expect(Date.now(), 'metrics and the queues API recover once Redis is back').toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 500));
    }
  }, 90_000);
});
