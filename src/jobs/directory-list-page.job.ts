import { z } from 'zod';
import { RUN_INCLUDES } from '../db/schema/provisioning-runs.js';
import { listPage } from '../services/provisioning-listing.js';
import { applyEffects } from '../services/provisioning-pipeline.js';
import { defineJob } from './define-job.js';

/** One provider page of a run's directory listing; queues the next page and the provisioning batches. */
export const directoryListPage = defineJob({
  name: 'directory.list-page',
  queue: 'directory',
  payload: z.object({
    runId: z.string().startsWith('run_').max(64),
    kind: z.enum(RUN_INCLUDES),
    page: z.number().int().min(0).max(10_000_000),
  }),
  attempts: 10,
  backoffMs: 2_000,
  jobId: (p) => `${p.runId}-${p.kind}-${p.page}`,
  handle: async (payload, ctx) => {
    await applyEffects(ctx.app, payload.runId, await listPage(ctx.app, payload, ctx.signal));
  },
});
