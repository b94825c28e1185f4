import { createPublicKey, generateKeyPair, type KeyObject, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { FaultConfig, QuotaConfig } from './config.js';
import { Counters } from './counters.js';
import { Org } from './org.js';
import { guidOf, hexOf, mix, SequenceRng, seedHash } from './prng.js';
import { Quotas } from './quotas.js';
import { PageTokens, Signer } from './signing.js';

/** A Google service-account key file, as the Cloud console downloads it. */
export type GoogleServiceAccountKey = {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
  auth_provider_x509_cert_url: string;
  client_x509_cert_url: string;
  universe_domain: string;
};

export type GoogleTenant = {
  org: Org;
  customerId: string;
  adminEmail: string;
  key: GoogleServiceAccountKey;
  publicKey: KeyObject;
  /** The key was deleted in the console: its signatures no longer verify. */
  keyRevoked: boolean;
  /** Domain-wide delegation; `scopes` null means every scope the client asks for. */
  delegation: { granted: boolean; scopes: string[] | null };
  /** Bumped when the key or the delegation is revoked: access tokens from before stop working. */
  epoch: number;
};

/**
 * How a missing consent shows: AADSTS65001 at the token endpoint (`consent_required`, the default),
 * AADSTS7000229 (`service_principal_missing`: the enterprise app was deleted), or a token without
 * roles and a Graph 403 on every call (`roles_missing`).
 */
export type ConsentMode = 'consent_required' | 'service_principal_missing' | 'roles_missing';

export type MicrosoftTenant = {
  org: Org;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  appName: string;
  secretExpired: boolean;
  consent: { granted: boolean; mode: ConsentMode };
  /** Bumped when consent is revoked: tokens from before get 403 on Graph. */
  epoch: number;
};

export type PageSizeConfig = { googleUsersMax: number; graphTopMax: number };

const generateKeyPairAsync = promisify(generateKeyPair);

export async function newServiceAccountKey(
  base: Pick<GoogleServiceAccountKey, 'project_id' | 'client_email' | 'client_id' | 'token_uri'>,
): Promise<{ key: GoogleServiceAccountKey; publicKey: KeyObject }> {
  const { privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const key: GoogleServiceAccountKey = {
    type: 'service_account',
    ...base,
    private_key_id: randomBytes(20).toString('hex'),
    private_key: privateKey,
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(base.client_email)}`,
    universe_domain: 'googleapis.com',
  };
  return { key, publicKey: createPublicKey(privateKey) };
}

/** One org's size and opt-in shape (Org's `structure` and `domains`). */
type OrgInit = {
  users: number;
  rooms: number;
  domain?: string | undefined;
  structure?: boolean | undefined;
  domains?: readonly string[] | undefined;
  shapes?: boolean | undefined;
};

export type StateInit = {
  seed: string | number;
  google: OrgInit | false;
  microsoft: OrgInit | false;
  faults: FaultConfig;
  quotas: QuotaConfig;
  pageSize: PageSizeConfig;
  graphLinkOrigin: string | undefined;
};

/** Everything the routes share: the orgs, the credentials and their switches, faults, quotas, counters. */
export class SandboxState {
  readonly seed: number;
  url = '';
  google: GoogleTenant | undefined;
  microsoft: MicrosoftTenant | undefined;
  faults: FaultConfig;
  quotas: QuotaConfig;
  readonly pageSize: PageSizeConfig;
  readonly counters = new Counters();
  readonly quotaGuard: Quotas;
  /** Signs access tokens; random per run, so tokens never outlive the sandbox that issued them. */
  readonly signer = new Signer(randomBytes(32));
  readonly pages: PageTokens;
  readonly rng: SequenceRng;
  private readonly graphLinkOriginOption: string | undefined;

  private constructor(init: StateInit) {
    this.seed = seedHash(init.seed);
    this.faults = init.faults;
    this.quotas = init.quotas;
    this.pageSize = init.pageSize;
    this.quotaGuard = new Quotas(() => this.quotas, this.counters);
    this.pages = new PageTokens(this.seed);
    this.rng = new SequenceRng(mix(this.seed, 0, 0xfa17));
    this.graphLinkOriginOption = init.graphLinkOrigin;
  }

  /** Origin written into `@odata.nextLink` / `@odata.context`. */
  get graphLinkOrigin(): string {
    return this.graphLinkOriginOption ?? this.url;
  }

  static async create(init: StateInit): Promise<SandboxState> {
    const s = new SandboxState(init);
    const tag = hexOf(s.seed, 0, 0xd0, 6);
    if (init.google) {
      const org = new Org({
        seed: s.seed,
        provider: 'google',
        domain: init.google.domain ?? `acme-${tag}.example.com`,
        users: init.google.users,
        rooms: init.google.rooms,
        structure: init.google.structure,
        domains: init.google.domains,
        shapes: init.google.shapes,
      });
      const { key, publicKey } = await newServiceAccountKey({
        project_id: `ec-sandbox-${tag}`,
        client_email: `ec-sandbox@ec-sandbox-${tag}.iam.gserviceaccount.com`,
        client_id: `1${String(mix(s.seed, 1, 0xc1)).padStart(10, '0')}${String(mix(s.seed, 2, 0xc1)).padStart(10, '0')}`,
        token_uri: 'https://oauth2.googleapis.com/token',
      });
      s.google = {
        org,
        customerId: `C0${mix(s.seed, 0, 0xc0).toString(36).padStart(7, '0').slice(0, 7)}`,
        adminEmail: org.users.at(0)?.email ?? `admin@${org.domain}`,
        key,
        publicKey,
        keyRevoked: false,
        delegation: { granted: true, scopes: null },
        epoch: 0,
      };
    }
    if (init.microsoft) {
      s.microsoft = {
        org: new Org({
          seed: s.seed,
          provider: 'microsoft',
          domain: init.microsoft.domain ?? `contoso-${tag}.example.com`,
          users: init.microsoft.users,
          rooms: init.microsoft.rooms,
          structure: init.microsoft.structure,
          domains: init.microsoft.domains,
          shapes: init.microsoft.shapes,
        }),
        tenantId: guidOf(s.seed, 0x7e),
        clientId: guidOf(s.seed, 0xc7),
        clientSecret: newClientSecret(),
        appName: 'Enterprise Connect (sandbox)',
        secretExpired: false,
        consent: { granted: true, mode: 'consent_required' },
        epoch: 0,
      };
    }
    return s;
  }
}

/** Entra client secrets look like `abc8Q~…` (40 characters). */
export function newClientSecret(): string {
  return `Sbx8Q~${randomBytes(26).toString('base64url')}`.slice(0, 40);
}
