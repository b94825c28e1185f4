import { z } from 'zod';
import { finishRun } from '../services/provisioning-pipeline.js';
import { defineJob } from './define-job.js';

/** Sets a run's final status once nothing is pending. */
export const runFinish = defineJob({
  name: 'runs.finish',
  queue: 'provisioning',
  payload: z.object({ runId: z.string().startsWith('run_').max(64) }),
  attempts: 10,
  handle: async ({ runId }, ctx) => {
    await finishRun(ctx.app, runId);
  },
});
