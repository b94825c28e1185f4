import { cleanupExpiredTokens } from '../services/token-cleanup.js';
import type { Handler } from './handler.js';

/** `tokens.cleanup`, hourly: deletes codes and tokens that expired or were revoked more than the grace period ago. */
export const handleTokensCleanup: Handler<'tokens.cleanup'> = async (_payload, ctx) => {
  const deleted = await cleanupExpiredTokens(ctx.app, { signal: ctx.signal });
  ctx.logger.info(deleted, 'expired codes and tokens deleted');
};
