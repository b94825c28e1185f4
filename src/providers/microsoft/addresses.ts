import { mapLimit } from '../../lib/map-limit.js';
import { type DirectoryRoom, ProviderError } from '../types.js';
import {
  type GraphPage,
  type GraphUser,
  graphUserEmail,
  mayBeRoom,
  toDirectoryRoom,
  USER_SELECT,
} from './directory.js';
import type { GraphCall } from './selection.js';

/** A Graph `/domains` entry (the fields we read). */
type GraphDomain = { id?: string; isVerified?: boolean | null };
/** `mailboxSettings` (the field we read): `user`, `linked`, `shared`, `room`, `equipment` or `others`. */
type GraphMailboxSettings = { userPurpose?: string | null };

/** An OData string literal: single quotes doubled. */
function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * The `$filter` that finds a user by an address other than its UPN: the primary SMTP address
 * (`mail`) or any proxy address. Filtering on `proxyAddresses` is an advanced query in Graph:
 * it needs `ConsistencyLevel: eventual` and `$count=true`. Proxy addresses compare
 * case-insensitively, so `smtp:` matches the primary (`SMTP:`) and the secondary ones.
 */
export function addressFilter(email: string): string {
  return `mail eq ${odataString(email)} or proxyAddresses/any(p:p eq ${odataString(`smtp:${email}`)})`;
}

/**
 * mailboxSettings reads in flight while looking for equipment mailboxes: each is another mailbox's
 * (Outlook's limits are per mailbox), and each still goes through the shared limiter. As many as a
 * process's default mailbox checks in flight (PROVIDER_CALLS_IN_FLIGHT): the first users page of a
 * listing waits for them, ~700 in a 20,000-person tenant, so at 300 ms a call 64 at a time held it
 * 3.3 s, and 200 at a time 1.2 s.
 */
const EQUIPMENT_CHECKS_IN_FLIGHT = 200;

/** Pages of disabled accounts followed at most while looking for equipment mailboxes. */
export const MAX_EQUIPMENT_PAGES = 200;

/**
 * Microsoft lookups beyond `/users/{upn}`: a user by mail or proxy address, the tenant's verified
 * domains, and equipment mailboxes (which `/places` does not list: they are disabled accounts in
 * `/users` whose `mailboxSettings.userPurpose` is `equipment`).
 */
export class MicrosoftAddresses {
  constructor(private readonly deps: { call: GraphCall; link: (cursor: string) => string }) {}

  /** The user whose mail or proxy address is `email` (exactly one), or undefined. */
  async findByAddress(email: string, signal: AbortSignal | undefined): Promise<GraphUser | undefined> {
    const page = await this.deps.call<GraphPage<GraphUser>>(
      { api: 'microsoft.directory', op: 'users.filter', kind: 'directory' },
      signal,
      (g) =>
        g
          .api('/users')
          .header('ConsistencyLevel', 'eventual')
          .filter(addressFilter(email))
          .count(true)
          .select(USER_SELECT)
          .top(2),
    );
    const found = page.value ?? [];
    if (found.length > 1) {
      throw new ProviderError(
        'microsoft',
        'user_not_found',
        `Several directory users carry the address ${email}: authorize one by its user principal name`,
      );
    }
    return found[0];
  }

  /** The tenant's verified domains, lower-cased. */
  async listDomains(signal?: AbortSignal): Promise<string[]> {
    const page = await this.deps.call<GraphPage<GraphDomain>>(
      { api: 'microsoft.directory', op: 'domains.list', kind: 'directory' },
      signal,
      (g) => g.api('/domains').select(['id', 'isVerified']),
    );
    return (page.value ?? [])
      .filter((d) => d.isVerified !== false && typeof d.id === 'string')
      .map((d) => (d.id as string).toLowerCase());
  }

  /** Whether a `/users` entry is an equipment mailbox (one mailboxSettings read; unknown → false). */
  async isEquipment(u: GraphUser, signal: AbortSignal | undefined): Promise<boolean> {
    const mailbox = graphUserEmail(u)?.toLowerCase();
    if (!u.id || !mailbox) {
      return false;
    }
    try {
      // An Outlook read of that mailbox (Graph counts it per mailbox), not an Identity and access
      // one: it takes nothing from the tenant's directory budget that the listing pages need.
      const settings = await this.deps.call<GraphMailboxSettings>(
        { api: 'microsoft.mailbox', op: 'mailboxSettings.get', kind: 'directory', mailbox },
        signal,
        (g) => g.api(`/users/${encodeURIComponent(u.id as string)}/mailboxSettings`).select(['userPurpose']),
      );
      return settings.userPurpose?.toLowerCase() === 'equipment';
    } catch (err) {
      // Without MailboxSettings.Read (or for a mailbox outside the access policy) the account stays
      // what /users makes of it (a shared mailbox); an outage is retried with the page.
      if (err instanceof ProviderError && !err.retryable) {
        return false;
      }
      throw err;
    }
  }

  /** One page of the tenant's disabled accounts (rooms, shared and equipment mailboxes among them). */
  async disabledPage(
    cursor: string | null,
    top: number,
    signal: AbortSignal | undefined,
  ): Promise<{ users: GraphUser[]; nextLink: string | undefined }> {
    const page = await this.deps.call<GraphPage<GraphUser>>(
      { api: 'microsoft.directory', op: 'users.list', kind: 'directory' },
      signal,
      (g) =>
        cursor
          ? g.api(this.deps.link(cursor))
          : g.api('/users').filter('accountEnabled eq false').select(USER_SELECT).top(top),
    );
    return { users: page.value ?? [], nextLink: page['@odata.nextLink'] };
  }

  /**
   * The equipment mailboxes among a page of disabled accounts: those without given name or surname
   * (rooms, shared and equipment mailboxes look alike in `/users`) that are not rooms, asked one by one.
   */
  async equipmentAmong(
    users: GraphUser[],
    rooms: ReadonlySet<string>,
    signal: AbortSignal | undefined,
  ): Promise<DirectoryRoom[]> {
    const candidates = users.filter((u) => {
      const email = graphUserEmail(u);
      return !!email && !!u.mail && mayBeRoom(u) && !rooms.has(email.toLowerCase());
    });
    // Asked EQUIPMENT_CHECKS_IN_FLIGHT at a time (each still through the shared limiter): one by one,
    // a 20,000-person tenant's ~700 candidates held its first users page for ~50 s at 70 ms a call.
    const equipment = await mapLimit(candidates, EQUIPMENT_CHECKS_IN_FLIGHT, (u) =>
      this.isEquipment(u, signal),
    );
    const items: DirectoryRoom[] = [];
    candidates.forEach((u, i) => {
      const room = equipment[i]
        ? toDirectoryRoom({
            id: u.id ?? '',
            emailAddress: graphUserEmail(u) ?? '',
            displayName: u.displayName ?? null,
          })
        : undefined;
      if (room) {
        items.push({ ...room, resourceType: 'equipment', resourceKind: 'equipment' });
      }
    });
    return items;
  }
}
