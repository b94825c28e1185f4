/**
 * Lists a whole directory through an adapter in its own process (started with --expose-gc), so the
 * heap it reports is the adapter's alone: it keeps only a running count, as a `directory.list-page`
 * job does. Input: the JSON in LIST_WORKER_INPUT; output: one JSON line.
 */
import { pino } from 'pino';
import { createDirectoryProvider } from '../../src/providers/index.js';
import { NoopLimiter } from '../../src/providers/limiter.js';
import type { ProviderUrls } from '../../src/providers/runtime.js';
import type { ServiceCredentials } from '../../src/providers/types.js';

export type ListWorkerInput = { urls: ProviderUrls; credentials: ServiceCredentials; pageSize: number };
export type ListWorkerOutput = {
  users: number;
  pages: number;
  elapsedMs: number;
  heapBeforeMb: number;
  heapPeakMb: number;
  heapDeltaMb: number;
};

const input = JSON.parse(process.env.LIST_WORKER_INPUT ?? '{}') as ListWorkerInput;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const mb = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;

const provider = createDirectoryProvider(input.credentials, {
  urls: input.urls,
  limiter: new NoopLimiter(),
  logger: pino({ level: 'silent' }),
  serviceAccountId: 'ser_list',
});
// Warm up (token, modules) before the baseline.
await provider.listUsersPage(null, { pageSize: 1 });
gc();
const before = process.memoryUsage().heapUsed;
let peak = before;
let users = 0;
let pages = 0;
const t0 = Date.now();
let cursor: string | null = null;
do {
  const page: Awaited<ReturnType<typeof provider.listUsersPage>> = await provider.listUsersPage(cursor, {
    pageSize: input.pageSize,
  });
  users += page.items.length;
  pages += 1;
  cursor = page.nextCursor;
  if (pages % 10 === 0) {
    gc();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }
} while (cursor);
const elapsedMs = Date.now() - t0;
gc();
peak = Math.max(peak, process.memoryUsage().heapUsed);
await provider.close();
const out: ListWorkerOutput = {
  users,
  pages,
  elapsedMs,
  heapBeforeMb: mb(before),
  heapPeakMb: mb(peak),
  heapDeltaMb: mb(peak - before),
};
process.stdout.write(`${JSON.stringify(out)}\n`);
