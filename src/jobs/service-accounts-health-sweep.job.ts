import { sweepHealthChecks } from '../services/service-account-health.js';
import type { Handler } from './handler.js';

/** `service-accounts.health-sweep`, every SWEEP_INTERVAL_SECONDS: a health check for each broken Service Account due. */
export const handleServiceAccountsHealthSweep: Handler<'service-accounts.health-sweep'> = async (
  _payload,
  ctx,
) => {
  const queued = await sweepHealthChecks(ctx.app);
  ctx.logger.info({ queued }, 'service account health sweep finished');
};
