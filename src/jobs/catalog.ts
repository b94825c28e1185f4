import { z } from 'zod';
import { shortDigest } from '../lib/crypto.js';
import { DIRECTORY_PROVISION_BATCH, PROVISION_BATCH, RUN_INCLUDES } from '../lib/provisioning.js';

/**
 * The job catalog: every job's name, queue, payload schema, retry policy and job ids — the contract
 * between whoever enqueues a job and the handler that runs it. It imports only zod and lib/, so
 * services (and the scheduler) enqueue through it without importing handlers; each handler lives in
 * its own `<name>.job.ts` and registry.ts refuses to start a worker when the two disagree.
 *
 * A payload is validated when enqueued and again when dequeued; an invalid one fails for good.
 */

/**
 * The queues every worker serves. Separate queues keep slow provider work from delaying other work.
 * (Callbacks and notifications are not a queue: the delivery pump sends them from the outbox.)
 */
export const QUEUE_NAMES = [
  'authorizations',
  'provisioning',
  'profiles',
  'directory',
  'maintenance',
] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

const runId = z.string().startsWith('run_').max(64);
const serviceAccountId = z.string().startsWith('ser_').max(64);
const page = z.number().int().min(0).max(10_000_000);
const count = z.number().int().min(0).max(1_000_000_000);
const kindTally = z.object({ listed: count, added: count });
/** Scheduled jobs take no payload. */
const none = z.object({});

/** Payload of `authorizations.process`: the recorded request's id only. */
export const authorizationPayload = z.object({
  authorizationRequestId: z.string().startsWith('azr_').max(64),
});
export type AuthorizationJob = z.infer<typeof authorizationPayload>;

/** Payload of `accounts.provision`: a batch of a run's items. */
const provisionPayload = z.object({
  runId,
  itemIds: z
    .array(z.string().startsWith('itm_').max(64))
    .min(1)
    .max(Math.max(PROVISION_BATCH, DIRECTORY_PROVISION_BATCH)),
});

/** Payload of `directory.sync`: a claimed sync. */
export const syncClaimPayload = z.object({
  serviceAccountId,
  /** The sync's start (ms): entries it lists get `last_seen_at` = this. */
  syncId: z.number().int().positive(),
  /** The lease the step must still hold (`next_directory_sync_at`, ms). */
  leaseAt: z.number().int().positive(),
});
/** Payload of `directory.sync-finish`. */
export const syncStepPayload = syncClaimPayload.extend({
  tally: z.object({ users: kindTally, rooms: kindTally }),
});
/** Payload of `directory.sync-page`. */
export const syncPagePayload = syncStepPayload.extend({
  kind: z.enum(RUN_INCLUDES),
  page,
  /** The provider's cursor of this page (a Graph nextLink can be long); null for the first page. */
  cursor: z.string().min(1).max(16_384).nullable(),
});

/** Job ids of one directory sync's steps start with this. */
const syncJobId = (p: { serviceAccountId: string; syncId: number }) =>
  `dirsync-${p.serviceAccountId}-${p.syncId}`;

/** What every catalog entry holds. */
export type JobEntry = {
  readonly queue: QueueName;
  readonly payload: z.ZodType;
  /** Attempts in total, including the first. */
  readonly attempts: number;
  /** First retry delay; doubles each attempt, with jitter. Default 5 s. */
  readonly backoffMs?: number;
  /** Deterministic job id from the payload, so enqueuing the same work twice is one job. */
  readonly jobId?: (payload: never) => string;
  /**
   * The id of a later round of the same work, queued again on purpose (see `EnqueueOptions.round`):
   * one job per round. Default: the deterministic id suffixed `-r<round>`.
   */
  readonly roundId?: (payload: never, round: string) => string;
};

/** Every job the workers know, by name. Adding a job = an entry here and its handler file. */
export const JOBS = {
  /** One email of `POST /v1/service_account_authorizations`: provision its Account, store the callback. */
  'authorizations.process': {
    queue: 'authorizations',
    payload: authorizationPayload,
    attempts: 6,
    backoffMs: 5_000,
    // One job per recorded request, however often it is queued (the reconciler's rounds: a new id).
    jobId: (p: AuthorizationJob) => `authz-${p.authorizationRequestId}`,
  },
  /** First step of a provisioning run: mark it listing, queue the first directory page of each kind. */
  'runs.start': {
    queue: 'provisioning',
    payload: z.object({ runId }),
    attempts: 10,
    jobId: (p: { runId: string }) => `${p.runId}-start`,
  },
  /** One provider page of a run's directory listing; queues the next page and the provisioning batches. */
  'directory.list-page': {
    queue: 'directory',
    payload: z.object({ runId, kind: z.enum(RUN_INCLUDES), page }),
    attempts: 10,
    backoffMs: 2_000,
    jobId: (p: { runId: string; kind: string; page: number }) => `${p.runId}-${p.kind}-${p.page}`,
  },
  /** A batch of run items: check mailboxes, create Accounts in one transaction, store the callbacks. */
  'accounts.provision': {
    queue: 'provisioning',
    payload: provisionPayload,
    attempts: 8,
    backoffMs: 3_000,
    // The same batch queued twice is one job.
    jobId: (p: { runId: string; itemIds: readonly string[] }) =>
      `${p.runId}-b-${shortDigest(p.itemIds.join(','))}`,
  },
  /** Sets a run's final status once nothing is pending. */
  'runs.finish': {
    queue: 'provisioning',
    payload: z.object({ runId }),
    attempts: 10,
  },
  /** Re-queues lost work of stalled runs and pending authorization requests from Postgres. */
  'runs.reconcile': {
    queue: 'maintenance',
    payload: z.object({}).strict(),
    attempts: 3,
    // A worker's boot run: one per minute however many workers start.
    roundId: (_p: object, round: string) => `reconcile-boot-${round}`,
  },
  /** Claims the due Profiles and queues one `profiles.check` each. */
  'profiles.check-sweep': { queue: 'maintenance', payload: none, attempts: 2, backoffMs: 1_000 },
  /** Checks one claimed Profile; `leaseAt` names the claim, so one claim is one job. */
  'profiles.check': {
    queue: 'profiles',
    payload: z.object({
      profileId: z.string().startsWith('pro_').max(64),
      leaseAt: z.number().int().positive(),
    }),
    attempts: 5,
    backoffMs: 5_000,
    jobId: (p: { profileId: string; leaseAt: number }) => `check-${p.profileId}-${p.leaseAt}`,
    // "Check now" from the relink page, in minute `round`: never the sweep's id.
    roundId: (p: { profileId: string }, round: string) => `check-now-${p.profileId}-${round}`,
  },
  /** Queues a health check for each broken Service Account that is due. */
  'service-accounts.health-sweep': { queue: 'maintenance', payload: none, attempts: 2, backoffMs: 1_000 },
  /** Verifies one broken Service Account: active again (its Profiles due now) or checked later. */
  'service-accounts.health-check': {
    queue: 'maintenance',
    payload: z.object({ serviceAccountId, leaseAt: z.number().int().positive() }),
    attempts: 3,
    backoffMs: 5_000,
    jobId: (p: { serviceAccountId: string; leaseAt: number }) => `health-${p.serviceAccountId}-${p.leaseAt}`,
  },
  /** Disconnects and pauses the Profiles of a broken Service Account; `round` = the breakage (ms). */
  'service-accounts.pause-profiles': {
    queue: 'maintenance',
    payload: z.object({ serviceAccountId }),
    attempts: 5,
    backoffMs: 5_000,
    roundId: (p: { serviceAccountId: string }, round: string) => `pause-${p.serviceAccountId}-${round}`,
  },
  /** Reads credential end dates (Graph) and notifies Applications 30, 7 and 1 days ahead, once each. */
  'service-accounts.credential-expiry': {
    queue: 'maintenance',
    payload: none,
    attempts: 2,
    backoffMs: 60_000,
  },
  /** Deletes codes and tokens that expired or were revoked more than the grace period ago. */
  'tokens.cleanup': { queue: 'maintenance', payload: none, attempts: 2, backoffMs: 10_000 },
  /** Deletes delivered deliveries, finished runs' items and audit events past their retention. */
  'records.retention': { queue: 'maintenance', payload: none, attempts: 2, backoffMs: 60_000 },
  /** Counts today's Profiles connected and disconnected per Service Account (the /admin history). */
  'profiles.snapshot': { queue: 'maintenance', payload: none, attempts: 2, backoffMs: 60_000 },
  /** Claims the Service Accounts whose directory sync is due and queues one `directory.sync` each. */
  'directory.sync-sweep': { queue: 'maintenance', payload: none, attempts: 2, backoffMs: 1_000 },
  /** Starts one claimed directory sync: queues its first page. */
  'directory.sync': {
    queue: 'directory',
    payload: syncClaimPayload,
    attempts: 5,
    backoffMs: 2_000,
    jobId: syncJobId,
  },
  /** One provider page of a directory sync; queues the next page or the finishing step. */
  'directory.sync-page': {
    queue: 'directory',
    payload: syncPagePayload,
    attempts: 10,
    backoffMs: 2_000,
    jobId: (p: { serviceAccountId: string; syncId: number; kind: string; page: number }) =>
      `${syncJobId(p)}-${p.kind}-${p.page}`,
  },
  /** The end of a directory sync: removals, revocations past grace, auto-provisioning. */
  'directory.sync-finish': {
    queue: 'directory',
    payload: syncStepPayload,
    attempts: 5,
    backoffMs: 2_000,
    jobId: (p: { serviceAccountId: string; syncId: number }) => `${syncJobId(p)}-finish`,
  },
} as const satisfies Record<string, JobEntry>;

export type JobName = keyof typeof JOBS;
/** A payload as enqueued (zod input: defaults may be left out). */
export type JobPayload<N extends JobName> = z.input<(typeof JOBS)[N]['payload']>;
/** A payload as its handler receives it (validated). */
export type JobData<N extends JobName> = z.output<(typeof JOBS)[N]['payload']>;

// Compile-time check: every id function accepts its job's validated payload.
type IdArg<E, K extends string> = E extends { [k in K]: (p: infer P, ...rest: never[]) => string }
  ? P
  : unknown;
type IdsFit = {
  [N in JobName]: JobData<N> extends IdArg<(typeof JOBS)[N], 'jobId'> & IdArg<(typeof JOBS)[N], 'roundId'>
    ? true
    : false;
};
type AllTrue<T extends Record<JobName, true>> = T;
export type _CatalogIdsFit = AllTrue<IdsFit>;

export const isJobName = (name: string): name is JobName => Object.hasOwn(JOBS, name);

/** The catalog entry of a job; throws on a name not in the catalog. */
export function jobEntry(name: string): JobEntry {
  if (!isJobName(name)) {
    throw new Error(`Unknown job "${name}"`);
  }
  return JOBS[name];
}

/**
 * The job id of `name` for a validated payload: its deterministic id (undefined when it has none),
 * or, with `round`, the id of that round of the same work.
 */
export function jobIdOf<N extends JobName>(
  name: N,
  payload: JobData<N>,
  round?: string | number,
): string | undefined {
  const entry: JobEntry = JOBS[name];
  const base = entry.jobId?.(payload as never);
  if (round === undefined) {
    return base;
  }
  if (entry.roundId) {
    return entry.roundId(payload as never, String(round));
  }
  if (base === undefined) {
    throw new Error(`Job "${name}" has no job id to queue again in a round`);
  }
  return `${base}-r${round}`;
}

export type EnqueueOptions = {
  /** Run no earlier than this many ms from now. */
  delayMs?: number;
  /**
   * A later round of the same work, queued again on purpose while the first job may still exist
   * (the reconciler's minute bucket, a retry, a "check now"): the job gets the round's id (the
   * entry's `roundId`, or its deterministic id + `-r<round>`), so each round is one job.
   */
  round?: string | number;
  /** Lower runs first (BullMQ priority); used to keep small runs ahead of huge ones. */
  priority?: number;
};

/** Queues one job: validates the payload, derives the job id from the catalog. */
export type Enqueue = <N extends JobName>(
  name: N,
  payload: JobPayload<N>,
  opts?: EnqueueOptions,
) => Promise<void>;
/** Many jobs of one name in one round trip per 1,000 (sweeps fanning out). */
export type EnqueueBulk = <N extends JobName>(
  name: N,
  payloads: readonly JobPayload<N>[],
  opts?: EnqueueOptions,
) => Promise<void>;

/**
 * The validated payloads of a job's jobs that will still run: waiting, prioritized, delayed (a
 * `Retry-After` or a backoff), waiting for children, or active (a stalled one goes back to waiting).
 * Completed and failed jobs are not listed: they run no more, even while their ids are kept.
 */
export type LiveJobs = <N extends JobName>(name: N) => Promise<JobData<N>[]>;

/** A job a step asks for, queued by the job runner once the step's transaction committed. */
export type JobRequest<N extends JobName = JobName> = {
  [K in N]: { name: K; payload: JobPayload<K>; opts?: EnqueueOptions };
}[N];

/** What a job-driven step returns: the jobs to queue after it (in this order). */
export type Effects = JobRequest[];

export function jobRequest<N extends JobName>(
  name: N,
  payload: JobPayload<N>,
  opts?: EnqueueOptions,
): JobRequest<N> {
  return (opts === undefined ? { name, payload } : { name, payload, opts }) as JobRequest<N>;
}
