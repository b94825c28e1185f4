/**
 * Directory entries the database refuses for good (text it cannot store, a value too long for an
 * index: see db/errors.ts). A listed page holding one must not fail as a whole, forever: the page is
 * written again without the refused entries, and a provisioning run records each of them as a
 * `failed` item with `invalid_provider_data` (its callback says so). A directory sync leaves them out.
 */

import { createHash } from 'node:crypto';
import { findRefusedEntries } from '../db/queries/directory-entries.js';
import type { NewRunItem } from '../db/queries/run-items.js';
import type { ProvisioningRun } from '../db/schema/provisioning-runs.js';
import type { RunItem } from '../db/schema/run-items.js';
import { newId } from '../lib/ids.js';
import type { Logger } from '../logger.js';
import type { AppContext } from './context.js';
import { deliveryIdFor, type NewOutbound } from './deliveries.js';
import { oauthErrorFor, REASON_DESCRIPTIONS } from './reasons.js';

/** Longer emails are shortened in a failed run item (RFC 5321 allows 254; an index entry ≈ 2,700 bytes). */
const MAX_ITEM_EMAIL = 320;

/**
 * The email a refused entry's run item is stored under: itself when short enough, else its first 200
 * characters, `…` and a hash of the whole (distinct emails stay distinct within a run).
 */
export function storableItemEmail(email: string): string {
  if (email.length <= MAX_ITEM_EMAIL) {
    return email;
  }
  const hash = createHash('sha256').update(email).digest('hex').slice(0, 16);
  return `${email.slice(0, 200)}…${hash}`;
}

/**
 * After a page's write was refused with a deterministic database error: which of its entries the
 * database refuses (email_lower → Postgres error code), found by writing each alone and rolling back.
 */
export async function refusedEntriesOf(
  app: Pick<AppContext, 'db'>,
  entries: Parameters<typeof findRefusedEntries>[1],
  logger: Logger,
  context: Record<string, unknown>,
): Promise<Map<string, string>> {
  const refused = await findRefusedEntries(app.db, entries);
  for (const [emailLower, code] of refused) {
    logger.warn(
      { ...context, code, email: emailLower.slice(0, 200) },
      'directory entry refused by the database; left out of its page',
    );
  }
  return refused;
}

/** The failed run item of a refused entry. */
export function refusedItem(
  run: Pick<ProvisioningRun, 'id'>,
  entry: { kind: NewRunItem['kind']; email: string },
  code: string,
): NewRunItem {
  const email = storableItemEmail(entry.email);
  return {
    id: newId('runItem'),
    runId: run.id,
    kind: entry.kind,
    email,
    emailLower: email.toLowerCase(),
    directoryEntryId: null,
    status: 'failed',
    errorKey: 'invalid_provider_data',
    errorDescription: `${REASON_DESCRIPTIONS.invalid_provider_data} (Postgres error ${code})`,
  };
}

/** The callbacks of refused items (as a provisioning batch sends for an item it failed). */
export function refusedItemCallbacks(
  run: Pick<ProvisioningRun, 'id' | 'applicationId' | 'callbackUrl' | 'dryRun' | 'state'>,
  items: RunItem[],
): NewOutbound[] {
  const url = run.callbackUrl;
  if (!url || run.dryRun) {
    return [];
  }
  return items.map((item) => ({
    id: deliveryIdFor(`run:${run.id}:${item.id}`),
    applicationId: run.applicationId,
    kind: 'callback',
    url,
    body: {
      authorization: {
        error: oauthErrorFor('invalid_provider_data'),
        error_key: 'invalid_provider_data',
        error_description: REASON_DESCRIPTIONS.invalid_provider_data,
        state: run.state,
        email: item.email,
      },
    },
    runId: run.id,
    accountId: null,
    codeScope: null,
  }));
}
