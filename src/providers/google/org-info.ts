import { OAuth2Client } from 'google-auth-library';
import type { admin_directory_v1 } from 'googleapis/build/src/apis/admin/directory_v1.js';
import { storableText } from '../../lib/text.js';
import { callProvider } from '../call.js';
import type { ResolvedRuntime } from '../runtime.js';
import { type DirectoryRoom, type GoogleCredentials, isProviderError, ProviderError } from '../types.js';
import { grantScopedToken } from './auth.js';
import { googleError } from './errors.js';
import type { AdminCall } from './selection.js';

const SCOPE = 'https://www.googleapis.com/auth/';
/**
 * domains.list needs a scope the rest of the product does not: it is asked for in a token of its
 * own, only when a domain is checked (registration, a credential change), so a delegation without
 * it keeps working for everything else.
 */
export const GOOGLE_DOMAIN_SCOPE = `${SCOPE}admin.directory.domain.readonly`;
/** How long the building names are trusted (one directory listing or sync uses one map). */
const BUILDINGS_TTL_MS = 10 * 60_000;
/** buildings.list's largest page, and the pages followed at most. */
const BUILDINGS_PAGE = 500;
const MAX_BUILDING_PAGES = 20;

/**
 * What Google says about the organization rather than its users: its domains (`domains.list`, with
 * their aliases) and its buildings (`resources.buildings.list`), whose names replace the building
 * ids calendar resources carry.
 */
export class GoogleOrgInfo {
  private buildings: { at: number; names: Promise<Map<string, string>> } | undefined;

  constructor(
    private readonly deps: {
      credentials: GoogleCredentials;
      rt: ResolvedRuntime;
      admin: admin_directory_v1.Admin;
      customer: string;
      asAdmin: AdminCall;
    },
  ) {}

  /** Every domain of the customer and their aliases, lower-cased. */
  async listDomains(signal?: AbortSignal): Promise<string[]> {
    const { rt, admin, customer } = this.deps;
    const res = await callProvider(
      rt,
      { provider: 'google', api: 'google.directory', op: 'domains.list' },
      signal,
      async (s) => {
        const auth = new OAuth2Client();
        auth.setCredentials({ access_token: await this.domainToken(s) });
        return admin.domains.list(
          { auth, customer, fields: 'domains(domainName,verified,domainAliases(domainAliasName,verified))' },
          { signal: s, retry: false },
        );
      },
      (err) => googleError(err, 'directory.list'),
    ).catch((err: unknown) => {
      if (isProviderError(err) && err.reason === 'delegation_not_granted') {
        throw new ProviderError(
          'google',
          'delegation_not_granted',
          `The domain list cannot be read: add ${GOOGLE_DOMAIN_SCOPE} to the service account's domain-wide delegation (Admin console > Security > API controls) (${err.message})`,
          { cause: err },
        );
      }
      throw err;
    });
    const out = new Set<string>();
    for (const d of res.data.domains ?? []) {
      if (d.domainName) {
        out.add(d.domainName.toLowerCase());
      }
      for (const a of d.domainAliases ?? []) {
        if (a.domainAliasName) {
          out.add(a.domainAliasName.toLowerCase());
        }
      }
    }
    return [...out];
  }

  /** The rooms with their building's name in place of its id (an unknown id stays as it is). */
  async nameBuildings(rooms: DirectoryRoom[], signal?: AbortSignal): Promise<DirectoryRoom[]> {
    if (!rooms.some((r) => r.building !== null)) {
      return rooms;
    }
    let names: Map<string, string>;
    try {
      names = await this.buildingNames(signal);
    } catch (err) {
      // Names are a nicety: a refusal (no privilege on buildings) keeps the ids; an outage retries.
      if (isProviderError(err) && !err.retryable) {
        this.deps.rt.logger.warn({ reason: err.reason }, 'google building names unavailable; ids kept');
        this.buildings = { at: Date.now(), names: Promise.resolve(new Map()) };
        return rooms;
      }
      throw err;
    }
    return rooms.map((r) =>
      r.building === null ? r : { ...r, building: names.get(r.building) ?? r.building },
    );
  }

  /** buildingId → buildingName, cached for BUILDINGS_TTL_MS, one load at a time. */
  private buildingNames(signal: AbortSignal | undefined): Promise<Map<string, string>> {
    const now = Date.now();
    if (!this.buildings || now - this.buildings.at > BUILDINGS_TTL_MS) {
      const load = this.loadBuildings(signal);
      this.buildings = { at: now, names: load };
      load.catch(() => {
        if (this.buildings?.names === load) {
          this.buildings = undefined;
        }
      });
    }
    return this.buildings.names;
  }

  private async loadBuildings(signal: AbortSignal | undefined): Promise<Map<string, string>> {
    const { admin, customer, asAdmin } = this.deps;
    const names = new Map<string, string>();
    let pageToken: string | undefined;
    for (let page = 0; page < MAX_BUILDING_PAGES; page++) {
      const res = await asAdmin('resources.buildings.list', 'directory.list', signal, (auth, o) =>
        admin.resources.buildings.list(
          {
            auth,
            customer,
            maxResults: BUILDINGS_PAGE,
            ...(pageToken ? { pageToken } : {}),
            fields: 'nextPageToken,buildings(buildingId,buildingName)',
          },
          o,
        ),
      );
      for (const b of res.data.buildings ?? []) {
        const name = storableText(b.buildingName ?? '');
        if (b.buildingId && name) {
          names.set(b.buildingId, name);
        }
      }
      pageToken = res.data.nextPageToken ?? undefined;
      if (!pageToken) {
        break;
      }
    }
    return names;
  }

  /** The admin's token for the domain scope. Used once per check: not kept. */
  private async domainToken(signal: AbortSignal): Promise<string> {
    const { credentials, rt } = this.deps;
    const granted = await grantScopedToken(
      {
        key: credentials.key,
        tokenUrl: rt.urls.googleTokenUrl,
        subject: credentials.adminEmail,
        scope: GOOGLE_DOMAIN_SCOPE,
      },
      signal,
    );
    return granted.token;
  }
}
