import {
  authorizationJobId,
  authorizationJobSchema,
  processAuthorization,
} from '../services/authorizations.js';
import { defineJob } from './define-job.js';

/** One email of `POST /v1/service_account_authorizations`: provision its Account, then send the callback. */
export const authorizeMailbox = defineJob({
  name: 'authorizations.process',
  queue: 'authorizations',
  payload: authorizationJobSchema,
  attempts: 6,
  backoffMs: 5_000,
  jobId: authorizationJobId,
  handle: async (payload, ctx) => {
    await processAuthorization(ctx.app, payload, {
      lastAttempt: ctx.attempt >= ctx.maxAttempts,
      signal: ctx.signal,
    });
  },
});
