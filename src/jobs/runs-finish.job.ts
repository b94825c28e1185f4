import { finishRun } from '../services/provisioning-pipeline.js';
import type { Handler } from './handler.js';

/** `runs.finish`: sets a run's final status once nothing is pending. */
export const handleRunsFinish: Handler<'runs.finish'> = async ({ runId }, ctx) => {
  await finishRun(ctx.app, runId);
};
