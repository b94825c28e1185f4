import { ValidationError } from '../errors.js';
import { checkOutboundUrl, OutboundUrlError } from '../lib/outbound-http.js';
import type { AppContext } from './context.js';

/** A Service Account's `notification_url`: http(s), and no private target unless OUTBOUND_ALLOW_PRIVATE. */
export async function checkNotificationUrl(
  app: Pick<AppContext, 'config'>,
  url: string | undefined,
): Promise<void> {
  if (url === undefined) {
    return;
  }
  try {
    await checkOutboundUrl(url, app.config.outbound.allowPrivate);
  } catch (err) {
    throw new ValidationError('Invalid notification_url', {
      notification_url: [err instanceof OutboundUrlError ? err.message : 'is not a usable URL'],
    });
  }
}
