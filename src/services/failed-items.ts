import { z } from 'zod';
import { type FailedItemRow, searchFailedItems } from '../db/queries/failed-items.js';
import { csvLine } from '../lib/csv.js';
import type { AppContext } from './context.js';

/**
 * Failed run items for people fixing them: searched by email (any part) and reason, across runs or
 * in one, paged with a cursor (`run_….itm_…`, the last row of the page), and exported as CSV.
 * Shared by /admin and `ec failures --items`.
 */

export const FAILED_ITEMS_MAX_PAGE = 1000;

const CURSOR = /^(run_[a-z2-7]{26})\.(itm_[a-z2-7]{26})$/;

export const failedItemsQuerySchema = z.object({
  run: z
    .string()
    .regex(/^run_[a-z2-7]{26}$/, 'must be a run id (run_…)')
    .optional(),
  email: z.string().max(320, 'must be at most 320 characters').optional(),
  reason: z
    .string()
    .regex(/^[a-z0-9_]{1,64}$/, 'must be a reason code (lower case, digits, _)')
    .optional(),
  cursor: z.string().regex(CURSOR, 'must be a cursor returned by a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(FAILED_ITEMS_MAX_PAGE).default(100),
});

export type FailedItemsQuery = z.infer<typeof failedItemsQuerySchema>;

export type FailedItemsPage = { items: FailedItemRow[]; nextCursor: string | null };

const cursorOf = (row: FailedItemRow) => `${row.runId}.${row.id}`;

function afterOf(cursor: string | undefined) {
  const m = cursor ? CURSOR.exec(cursor) : null;
  return m?.[1] && m[2] ? { runId: m[1], id: m[2] } : undefined;
}

/** An empty search term is no filter (an HTML form sends every field). */
const term = (v: string | undefined) => (v?.trim() ? v.trim() : undefined);

export async function failedItemsPage(app: AppContext, q: FailedItemsQuery): Promise<FailedItemsPage> {
  const rows = await searchFailedItems(app.db, {
    runId: q.run,
    email: term(q.email),
    reason: term(q.reason),
    after: afterOf(q.cursor),
    limit: q.limit + 1,
  });
  const items = rows.slice(0, q.limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > q.limit && last ? cursorOf(last) : null };
}

export const FAILED_ITEMS_CSV_HEADER = [
  'run_id',
  'service_account_id',
  'domain',
  'email',
  'kind',
  'error_key',
  'error_description',
  'attempts',
  'updated_at',
] as const;

export function failedItemCsvLine(i: FailedItemRow): string {
  return csvLine([
    i.runId,
    i.serviceAccountId,
    i.domain,
    i.email,
    i.kind,
    i.errorKey,
    i.errorDescription,
    i.attempts,
    i.updatedAt.toISOString(),
  ]);
}

/**
 * Every match as CSV lines (the header first), read a page of 1,000 at a time so an export of
 * 100,000 failures never holds them all in memory.
 */
export async function* failedItemsCsv(
  app: AppContext,
  q: Omit<FailedItemsQuery, 'cursor' | 'limit'>,
): AsyncGenerator<string> {
  yield csvLine([...FAILED_ITEMS_CSV_HEADER]);
  let cursor: string | undefined;
  for (;;) {
    const page = await failedItemsPage(app, { ...q, cursor, limit: FAILED_ITEMS_MAX_PAGE });
    if (page.items.length > 0) {
      yield page.items.map(failedItemCsvLine).join('');
    }
    if (!page.nextCursor) {
      return;
    }
    cursor = page.nextCursor;
  }
}
