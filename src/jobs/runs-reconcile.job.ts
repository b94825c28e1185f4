import { reconcile } from '../services/reconcile.js';
import type { Handler } from './handler.js';

/** `runs.reconcile`: re-queues work of stalled runs and pending authorization requests from Postgres. */
export const handleRunsReconcile: Handler<'runs.reconcile'> = async (_payload, ctx) => {
  await reconcile(ctx.app);
};
