import { startRun } from '../services/provisioning-listing.js';
import type { Handler } from './handler.js';

/** `runs.start`: first step of a provisioning run — mark it listing, queue the first page of each kind. */
export const handleRunsStart: Handler<'runs.start'> = async ({ runId }, ctx) => startRun(ctx.app, runId);
