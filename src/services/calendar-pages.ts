import { randomBytes } from 'node:crypto';
import { ServiceUnavailableError } from '../errors.js';
import { withDeadline } from '../lib/deadline.js';
import type { AppContext } from './context.js';

/**
 * The state behind a `pages.next_page` link of the calendar read APIs (the query and where it
 * stands), kept in Redis for an hour under a random id, so the link is short and carries nothing the
 * caller could change. A page's state belongs to one Account: a link used with another token is 404.
 */

/** How long a next_page link works. */
export const PAGE_TTL_SECS = 3_600;
const REDIS_WAIT_MS = 2_000;
const redisDown = () => new ServiceUnavailableError(5_000, 'Redis is not answering; try the page again');

const key = (app: Pick<AppContext, 'config'>, kind: string, id: string) =>
  `${app.config.redis.queuePrefix}:data-pages:${kind}:${id}`;

/** Stores a page's state; returns its id (22 url-safe characters). */
export async function savePageState(
  app: Pick<AppContext, 'config' | 'redis'>,
  kind: 'events' | 'free_busy',
  state: unknown,
): Promise<string> {
  const id = randomBytes(16).toString('base64url');
  await withDeadline(
    app.redis().set(key(app, kind, id), JSON.stringify(state), 'EX', PAGE_TTL_SECS),
    REDIS_WAIT_MS,
    redisDown,
  );
  return id;
}

/** A page's state as stored, or undefined when the id is unknown or expired. */
export async function loadPageState(
  app: Pick<AppContext, 'config' | 'redis'>,
  kind: 'events' | 'free_busy',
  id: string,
): Promise<unknown> {
  if (!/^[A-Za-z0-9_-]{22}$/.test(id)) {
    return undefined;
  }
  const raw = await withDeadline(app.redis().get(key(app, kind, id)), REDIS_WAIT_MS, redisDown);
  if (raw === null) {
    return undefined;
  }
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}
