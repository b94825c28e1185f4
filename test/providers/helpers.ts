import { pino } from 'pino';
import { createDirectoryProvider } from '../../src/providers/index.js';
import { NoopLimiter, type ProviderLimiter } from '../../src/providers/limiter.js';
import type { ProviderRuntime, ProviderUrls } from '../../src/providers/runtime.js';
import type {
  DirectoryProvider,
  GoogleCredentials,
  MicrosoftCredentials,
  ProviderReason,
} from '../../src/providers/types.js';
import { isProviderError } from '../../src/providers/types.js';
import type { Sandbox } from '../../src/sandbox/index.js';

export const quietLogger = pino({ level: 'silent' });

export function sandboxUrls(sb: Sandbox): ProviderUrls {
  return {
    googleTokenUrl: `${sb.url}/token`,
    googleApiUrl: sb.url,
    microsoftLoginUrl: sb.url,
    microsoftGraphUrl: sb.url,
  };
}

export function googleCredentials(sb: Sandbox): GoogleCredentials {
  const g = sb.google;
  if (!g) {
    throw new Error('sandbox has no Google org');
  }
  return {
    provider: 'google',
    domain: g.domain,
    adminEmail: g.adminEmail,
    key: g.serviceAccountKey,
    customerId: g.customerId,
  };
}

export function microsoftCredentials(
  sb: Sandbox,
  overrides: Partial<MicrosoftCredentials> = {},
): MicrosoftCredentials {
  const m = sb.microsoft;
  if (!m) {
    throw new Error('sandbox has no Microsoft org');
  }
  return {
    provider: 'microsoft',
    domain: m.domain,
    tenantId: m.tenantId,
    clientId: m.clientId,
    clientSecret: m.clientSecret,
    ...overrides,
  };
}

export function providerFor(
  credentials: GoogleCredentials | MicrosoftCredentials,
  urls: ProviderUrls,
  opts: Partial<Omit<ProviderRuntime, 'urls'>> & { limiter?: ProviderLimiter } = {},
): DirectoryProvider {
  return createDirectoryProvider(credentials, {
    limiter: new NoopLimiter(),
    logger: quietLogger,
    serviceAccountId: 'ser_test',
    ...opts,
    urls,
  });
}

/** The reason code a promise fails with (or 'resolved'). */
export async function reasonOf(p: Promise<unknown>): Promise<ProviderReason | 'resolved' | string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return isProviderError(err) ? err.reason : `not a ProviderError: ${String(err)}`;
  }
}
