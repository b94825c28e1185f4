import type { z } from 'zod';
import { authorizeMailbox } from './authorize-mailbox.job.js';
import type { JobDefinition } from './define-job.js';
import { sendDelivery } from './send-delivery.job.js';

/** Every job the workers know. Adding a job = adding its file and one line here. */
export const JOBS = [authorizeMailbox, sendDelivery] as const;

type AnyJob = (typeof JOBS)[number];
export type JobName = AnyJob['name'];
export type JobPayload<N extends JobName> = z.input<Extract<AnyJob, { name: N }>['payload']>;

/** Name → definition; refuses to start with two jobs of one name. */
export function buildRegistry(
  jobs: readonly JobDefinition[] = JOBS as unknown as JobDefinition[],
): Map<string, JobDefinition> {
  const registry = new Map<string, JobDefinition>();
  for (const job of jobs) {
    if (registry.has(job.name)) {
      throw new Error(`Job "${job.name}" is defined twice`);
    }
    registry.set(job.name, job);
  }
  return registry;
}
