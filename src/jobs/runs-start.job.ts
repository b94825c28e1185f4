import { z } from 'zod';
import { startRun } from '../services/provisioning-listing.js';
import { applyEffects } from '../services/provisioning-pipeline.js';
import { defineJob } from './define-job.js';

const runId = z.string().startsWith('run_').max(64);

/** First step of a provisioning run: mark it listing and queue the first directory page of each kind. */
export const runStart = defineJob({
  name: 'runs.start',
  queue: 'provisioning',
  payload: z.object({ runId }),
  attempts: 10,
  jobId: (p) => `${p.runId}-start`,
  handle: async ({ runId }, ctx) => {
    await applyEffects(ctx.app, runId, await startRun(ctx.app, runId));
  },
});
