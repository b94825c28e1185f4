import { processAuthorization } from '../services/authorizations.js';
import type { Handler } from './handler.js';

/** `authorizations.process`: one email of `POST /v1/service_account_authorizations` — its Account, then its callback. */
export const handleAuthorizationsProcess: Handler<'authorizations.process'> = async (payload, ctx) => {
  await processAuthorization(ctx.app, payload, {
    lastAttempt: ctx.attempt >= ctx.maxAttempts,
    signal: ctx.signal,
  });
};
