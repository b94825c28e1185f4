import { credentialExpirySweep } from '../services/credential-expiry.js';
import type { Handler } from './handler.js';

/** `service-accounts.credential-expiry`, hourly: end dates read, `service_account_credential_expiring` sent once per threshold. */
export const handleServiceAccountsCredentialExpiry: Handler<'service-accounts.credential-expiry'> = async (
  _payload,
  ctx,
) => {
  const report = await credentialExpirySweep(ctx.app, { signal: ctx.signal });
  ctx.logger.info(report, 'credential expiry checked');
};
