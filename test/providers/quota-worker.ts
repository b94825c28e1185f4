/**
 * One "worker process" for quotas.int.test.ts: hammers one Service Account (Google and Microsoft)
 * through the real adapters and a RedisProviderLimiter on the shared Redis prefix, for `durationMs`,
 * then prints one JSON line with what it did. Input: the JSON in QUOTA_WORKER_INPUT.
 */
import { pino } from 'pino';
import { RateLimitedError } from '../../src/errors.js';
import { createRedisClient, type RedisTarget } from '../../src/lib/redis.js';
import { createDirectoryProvider } from '../../src/providers/index.js';
import { RedisProviderLimiter } from '../../src/providers/limiter.js';
import type { QuotaOverrides } from '../../src/providers/quotas.js';
import type { ProviderUrls } from '../../src/providers/runtime.js';
import {
  type GoogleCredentials,
  isProviderError,
  type MailboxCalendar,
  type MicrosoftCredentials,
} from '../../src/providers/types.js';

export type QuotaWorkerInput = {
  urls: ProviderUrls;
  /** The tests' Redis: a server or a cluster (TEST_REDIS_TARGET). */
  redis: RedisTarget;
  keyPrefix: string;
  serviceAccountId: string;
  overrides: QuotaOverrides;
  google: GoogleCredentials;
  microsoft: MicrosoftCredentials;
  googleUsers: string[];
  microsoftMailbox: { email: string; providerId: string };
  durationMs: number;
  parallel: number;
  maxWaitMs: number;
};

export type QuotaWorkerOutput = {
  pid: number;
  ok: Record<string, number>;
  failed: Record<string, number>;
  limiter: ReturnType<RedisProviderLimiter['stats']>;
};

const input = JSON.parse(process.env.QUOTA_WORKER_INPUT ?? '{}') as QuotaWorkerInput;
const redis = createRedisClient(input.redis, { maxRetriesPerRequest: 3 });
const limiter = new RedisProviderLimiter({ redis, keyPrefix: input.keyPrefix, maxWaitMs: input.maxWaitMs });
const runtime = {
  urls: input.urls,
  limiter,
  logger: pino({ level: 'silent' }),
  serviceAccountId: input.serviceAccountId,
  quotaOverrides: input.overrides,
};
const google = createDirectoryProvider(input.google, { ...runtime, rateLimitRetries: 0 });
const microsoft = createDirectoryProvider(input.microsoft, { ...runtime, rateLimitRetries: 0 });

const ok: Record<string, number> = {};
const failed: Record<string, number> = {};
const bump = (m: Record<string, number>, k: string) => {
  m[k] = (m[k] ?? 0) + 1;
};

const ops: [string, () => Promise<unknown>][] = [
  ['google.users', () => google.listUsersPage(null, { pageSize: 5 })],
  ...input.googleUsers.map((email): [string, () => Promise<MailboxCalendar[]>] => [
    'google.calendars',
    () => google.listCalendars({ kind: 'user', email, providerId: email }),
  ]),
  ['microsoft.calendars', () => microsoft.listCalendars({ kind: 'user', ...input.microsoftMailbox })],
  ['microsoft.calendars', () => microsoft.listCalendars({ kind: 'user', ...input.microsoftMailbox })],
];

const deadline = Date.now() + input.durationMs;
let next = process.pid;
await Promise.all(
  Array.from({ length: input.parallel }, async () => {
    while (Date.now() < deadline) {
      const [name, run] = ops[next++ % ops.length] as [string, () => Promise<unknown>];
      try {
        await run();
        bump(ok, name);
      } catch (err) {
        bump(failed, `${name}:${isProviderError(err) ? err.reason : String(err)}`);
        if (err instanceof RateLimitedError) {
          // What the queue would do: delay this job, not spin.
          await new Promise((r) => setTimeout(r, Math.min(err.retryAfterMs, 1000)));
        }
      }
    }
  }),
);
await google.close();
await microsoft.close();
redis.disconnect();
const out: QuotaWorkerOutput = { pid: process.pid, ok, failed, limiter: limiter.stats() };
process.stdout.write(`${JSON.stringify(out)}\n`);
