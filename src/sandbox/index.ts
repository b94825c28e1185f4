import { SandboxClient } from './client.js';
import {
  checkFaultShares,
  DEFAULT_FAULTS,
  type FaultConfig,
  type QuotaConfig,
  resolveQuotas,
} from './config.js';
import { buildServer } from './server.js';
import { type GoogleServiceAccountKey, SandboxState } from './state.js';

export {
  type FaultsInput,
  type Listing,
  type RoomInput,
  type RoomPatch,
  SandboxClient,
  SandboxControlError,
  type SandboxRoom,
  type SandboxUser,
  type UserInput,
  type UserPatch,
} from './client.js';
export type { FaultConfig, QuotaConfig } from './config.js';
export type { CountersSnapshot } from './counters.js';
export type { ConsentMode, GoogleServiceAccountKey } from './state.js';
export type { SandboxStateView } from './state-view.js';

type OrgSize = {
  users: number;
  rooms: number;
  domain?: string;
  /** Opt-in: org units and groups (nested, and one empty), drawn from the seed. Default off. */
  structure?: boolean;
  /** Opt-in: more verified domains, users spread over them. Default none. */
  domains?: string[];
  /**
   * Opt-in: real-tenant shapes (org-shape.ts): Microsoft users whose UPN is not their mail, with
   * proxy addresses, guests and equipment mailboxes; Google buildings whose ids are not their names.
   * Default off.
   */
  shapes?: boolean;
};

export type SandboxOptions = {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a random free port). */
  port?: number;
  /** Default 1. The same seed gives the same org, byte for byte. */
  seed?: string | number;
  /** Default `{ users: 50, rooms: 10 }`; false leaves Google out. */
  google?: OrgSize | false;
  /** Default `{ users: 50, rooms: 10 }`; false leaves Microsoft out. */
  microsoft?: OrgSize | false;
  /** Injected faults (all off by default); changeable at run time through the control API. */
  faults?: Partial<FaultConfig>;
  /** The providers' documented quotas: true (default), false, or overridden numbers. */
  quotas?: boolean | Partial<QuotaConfig>;
  /** Page-size ceilings: Google users.list `maxResults` (default 500), Graph `$top` (default 999). */
  pageSize?: { googleUsersMax?: number; graphTopMax?: number };
  /**
   * Origin written into Graph `@odata.nextLink` and `@odata.context`. Default: the sandbox's own URL,
   * so plain HTTP clients follow links as they are. Set `https://graph.microsoft.com` for clients that
   * keep Graph's origin and rewrite it in their transport (graph-client over HTTP, providers.md §3.3).
   */
  graphLinkOrigin?: string;
};

export type Sandbox = {
  url: string;
  google?: {
    domain: string;
    adminEmail: string;
    customerId: string;
    serviceAccountKey: GoogleServiceAccountKey;
  };
  microsoft?: { tenantId: string; clientId: string; clientSecret: string; domain: string };
  control: SandboxClient;
  close(): Promise<void>;
};

const MAX_ORG = 10_000_000;

function checkOrg(name: string, o: OrgSize | false | undefined): OrgSize | false {
  if (o === false) {
    return false;
  }
  const size = o ?? { users: 50, rooms: 10 };
  for (const [k, v] of [
    ['users', size.users],
    ['rooms', size.rooms],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > MAX_ORG) {
      throw new RangeError(`${name}.${k} must be an integer between 0 and ${MAX_ORG}`);
    }
  }
  // User 0 is the Google admin, so a Google org needs at least one user.
  if (name === 'google' && size.users < 1) {
    throw new RangeError('google.users must be at least 1 (user 0 is the admin)');
  }
  return size;
}

/** Starts the sandbox provider server (DESIGN §8) and resolves once it listens. */
export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const faults = { ...DEFAULT_FAULTS, ...opts.faults };
  const problem = checkFaultShares(faults);
  if (problem) {
    throw new RangeError(problem);
  }
  const state = await SandboxState.create({
    seed: opts.seed ?? 1,
    google: checkOrg('google', opts.google),
    microsoft: checkOrg('microsoft', opts.microsoft),
    faults,
    quotas: resolveQuotas(opts.quotas),
    pageSize: {
      googleUsersMax: opts.pageSize?.googleUsersMax ?? 500,
      graphTopMax: opts.pageSize?.graphTopMax ?? 999,
    },
    graphLinkOrigin: opts.graphLinkOrigin?.replace(/\/+$/, ''),
  });
  const held = new Set<NodeJS.Timeout>();
  const app = buildServer(state, held);
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ host, port: opts.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 0);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  state.url = url;
  if (state.google) {
    // The SDKs never read token_uri (providers.md §1.2), but a key file naming its issuer is less surprising.
    state.google.key = { ...state.google.key, token_uri: `${url}/token` };
  }

  const g = state.google;
  const m = state.microsoft;
  let closing: Promise<void> | undefined;
  return {
    url,
    ...(g
      ? {
          google: {
            domain: g.org.domain,
            adminEmail: g.adminEmail,
            customerId: g.customerId,
            // A getter: after a key rotation through the control API this is the new key.
            get serviceAccountKey() {
              return g.key;
            },
          },
        }
      : {}),
    ...(m
      ? {
          microsoft: {
            tenantId: m.tenantId,
            clientId: m.clientId,
            get clientSecret() {
              return m.clientSecret;
            },
            domain: m.org.domain,
          },
        }
      : {}),
    control: new SandboxClient(url),
    close: () => {
      closing ??= app.close();
      return closing;
    },
  };
}
