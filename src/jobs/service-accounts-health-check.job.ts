import { checkServiceAccountHealth } from '../services/service-account-health.js';
import type { Handler } from './handler.js';

/** `service-accounts.health-check`: verifies one broken Service Account — active again, or checked later. */
export const handleServiceAccountsHealthCheck: Handler<'service-accounts.health-check'> = async (
  payload,
  ctx,
) => {
  const logger = ctx.logger.child({ serviceAccountId: payload.serviceAccountId });
  const outcome = await checkServiceAccountHealth(ctx.app, payload, { signal: ctx.signal, logger });
  logger.info({ outcome }, 'service account health checked');
};
