import { listPage } from '../services/provisioning-listing.js';
import { countRunCalls } from '../services/run-charts.js';
import type { Handler } from './handler.js';

/** `directory.list-page`: one provider page of a run's listing; queues the next page and the provisioning batches. */
export const handleDirectoryListPage: Handler<'directory.list-page'> = async (payload, ctx) =>
  countRunCalls(ctx.app, payload.runId, ctx.signal, (signal) => listPage(ctx.app, payload, signal));
