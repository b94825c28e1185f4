/**
 * Constants of a provisioning run that the job catalog's payload schemas need, shared with the schema
 * (db/schema/provisioning-runs.ts) and the services. They live here, below all three, so that none of
 * them imports another for a constant.
 */

/** What a run lists: users (and shared mailboxes), rooms. */
export const RUN_INCLUDES = ['users', 'rooms'] as const;
export type RunInclude = (typeof RUN_INCLUDES)[number];

/**
 * Items per `accounts.provision` job of a mailbox-verified run: one transaction per batch, its
 * mailbox checks in flight together.
 */
export const PROVISION_BATCH = 25;
/**
 * Items per batch of a `verify: "directory"` run: it makes no provider call per item, so its cost is
 * the transaction's statements, shared by four times as many Accounts.
 */
export const DIRECTORY_PROVISION_BATCH = 100;

/** Items per `accounts.provision` job for a run verified this way. */
export function provisionBatchSize(verify: 'mailbox' | 'directory'): number {
  return verify === 'directory' ? DIRECTORY_PROVISION_BATCH : PROVISION_BATCH;
}

/** A run's item ids split into its `accounts.provision` batches, in order. */
export function provisionBatches(itemIds: readonly string[], verify: 'mailbox' | 'directory'): string[][] {
  const size = provisionBatchSize(verify);
  const batches: string[][] = [];
  for (let i = 0; i < itemIds.length; i += size) {
    batches.push(itemIds.slice(i, i + size));
  }
  return batches;
}
