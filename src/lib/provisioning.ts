/**
 * Constants of a provisioning run that the job catalog's payload schemas need, shared with the schema
 * (db/schema/provisioning-runs.ts) and the services. They live here, below all three, so that none of
 * them imports another for a constant.
 */

/** What a run lists: users (and shared mailboxes), rooms. */
export const RUN_INCLUDES = ['users', 'rooms'] as const;
export type RunInclude = (typeof RUN_INCLUDES)[number];

/** Items per `accounts.provision` job: one transaction per batch. */
export const PROVISION_BATCH = 25;
