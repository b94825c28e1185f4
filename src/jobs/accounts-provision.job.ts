import { provisionBatch } from '../services/provisioning-pipeline.js';
import { countRunCalls } from '../services/run-charts.js';
import type { Handler } from './handler.js';

/** `accounts.provision`: check a batch's mailboxes, create their Accounts in one transaction, store the callbacks. */
export const handleAccountsProvision: Handler<'accounts.provision'> = async (payload, ctx) =>
  countRunCalls(ctx.app, payload.runId, ctx.signal, (signal) =>
    provisionBatch(ctx.app, payload, { lastAttempt: ctx.attempt >= ctx.maxAttempts, signal }),
  );
