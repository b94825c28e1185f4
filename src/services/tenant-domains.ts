import { ValidationError } from '../errors.js';
import type { DirectoryProvider } from '../providers/types.js';

/** Domains named in a refusal at most (a tenant may have hundreds). */
const LISTED_AT_MOST = 10;

/** Where an admin adds and verifies a domain, per provider. */
const ADD_DOMAIN_FIX = {
  google: 'add it in the Google Admin console (Account > Domains > Manage domains) and verify it',
  microsoft: 'add it in the Microsoft Entra admin center (Settings > Domain names) and verify it',
} as const;

/**
 * Checks a Service Account's `domain` against the organization's own list (Google `domains.list`
 * with aliases, Graph `/domains` verified ones): a domain the tenant does not have is a 422 on
 * `domain` saying which domains it has and how to add one. A provider without a domain list (the
 * in-memory fake) is not checked.
 */
export async function checkTenantDomain(
  provider: DirectoryProvider,
  domain: string,
  signal?: AbortSignal,
): Promise<void> {
  if (!provider.listDomains) {
    return;
  }
  const domains = await provider.listDomains(signal);
  const wanted = domain.toLowerCase();
  if (domains.includes(wanted)) {
    return;
  }
  const shown = domains.slice(0, LISTED_AT_MOST).join(', ');
  const more = domains.length > LISTED_AT_MOST ? ` and ${domains.length - LISTED_AT_MOST} more` : '';
  const description =
    domains.length === 0
      ? `${wanted} is not a domain of this organization (the directory lists none): ${ADD_DOMAIN_FIX[provider.provider]}`
      : `${wanted} is not a domain of this organization, whose domains are ${shown}${more}: use one of them, or ${ADD_DOMAIN_FIX[provider.provider]}`;
  throw new ValidationError(`The domain ${wanted} is not one of the organization's domains`, {
    domain: [{ key: 'errors.domain_not_in_directory', description }],
  });
}
