import { createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { gaxios, type OAuth2Client } from 'google-auth-library';
import { LruMap } from '../../lib/lru.js';
import { abortable } from '../signals.js';
import { type CachedToken, type SharedTokenStore, tokenKey } from '../token-store.js';
import { type GoogleServiceAccountKey, ProviderError } from '../types.js';
import { createGoogleHttp } from './transport.js';

const SCOPE = 'https://www.googleapis.com/auth/';

/**
 * The scopes domain-wide delegation must grant (docs/providers.md lists them for admins). The admin
 * subject gets Directory and Calendar scopes in one token (room calendars are read as the admin); every
 * other subject only Calendar. One scope set per subject keeps it at one token per subject.
 */
export const GOOGLE_SCOPES = {
  directory: [`${SCOPE}admin.directory.user.readonly`, `${SCOPE}admin.directory.resource.calendar.readonly`],
  calendar: [`${SCOPE}calendar`],
} as const;

/** The audience Google's token endpoint checks, whatever URL the assertion is posted to. */
const GOOGLE_AUDIENCE = 'https://oauth2.googleapis.com/token';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** A token is used until this long before it expires (google-auth-library's eager refresh margin). */
const REFRESH_MARGIN_MS = 5 * 60_000;
/** How long one process holds the right to fetch a subject's token while the others wait for it. */
const CLAIM_MS = 10_000;
/** How often, and how long, a process waiting on another's fetch looks for the token. */
const WAIT_STEP_MS = 50;
const WAIT_MAX_MS = 3_000;
/** The longest token lifetime Google grants: a token without an issue time is taken as this old. */
const MAX_LIFETIME_MS = 3_600_000;
/**
 * Token-endpoint refusals that are about the Service Account, not the subject: delegation withdrawn
 * (for these scopes), the client or its key gone. Every token issued for the same scopes before such a
 * refusal was issued under what was withdrawn.
 */
const ACCOUNT_WIDE = new Set(['unauthorized_client', 'access_denied', 'invalid_client']);

export type GoogleAuthPoolOptions = {
  key: GoogleServiceAccountKey;
  adminEmail: string;
  tokenUrl: string;
  /** Timeout of each token request. */
  timeoutMs: number;
  /** Tokens kept in this process (plain strings); least recently used evicted. */
  maxSubjects: number;
  /** Tokens shared with every other process, when the deployment has one. */
  shared?: SharedTokenStore | undefined;
};

export type GoogleAuthStats = {
  /** JWT assertions signed (= token requests made) by this process. */
  signatures: number;
  /** Tokens found in this process, in the shared store, or fetched. */
  local: number;
  shared: number;
};

/**
 * The `auth` googleapis is given. It only ever calls `request` on it (googleapis-common apirequest.js),
 * so a bearer-token sender stands in for a client; typed as what googleapis' parameters accept.
 */
export type BearerAuth = OAuth2Client;

/**
 * Access tokens per impersonated subject, as plain values: looked up in this process, then in the store
 * shared by every process (Redis, encrypted), and only then fetched with one signed JWT assertion
 * (RFC 7523) — at most one fetch per subject at a time across the deployment. Subjects are case-folded:
 * Google treats addresses case-insensitively. Token-endpoint failures are gaxios errors with Google's
 * `{error, error_description}` body, exactly what errors.ts maps.
 */
export class GoogleAuthPool {
  readonly stats: GoogleAuthStats = { signatures: 0, local: 0, shared: 0 };
  private readonly tokens: LruMap<string, CachedToken>;
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly admin: string;
  private privateKey: KeyObject | undefined;
  private readonly http: gaxios.Gaxios;
  private readonly keyScope: string;
  /** Per scope set: tokens issued before this (epoch ms) are not used (see `distrust`). */
  private readonly distrustedBefore = new Map<string, number>();

  constructor(private readonly opts: GoogleAuthPoolOptions) {
    this.tokens = new LruMap(opts.maxSubjects);
    this.admin = opts.adminEmail.toLowerCase();
    this.keyScope = `${opts.key.client_email}\0${opts.key.private_key_id ?? ''}\0${opts.tokenUrl}`;
    this.http = createGoogleHttp(opts.timeoutMs);
  }

  get size(): number {
    return this.tokens.size;
  }

  /** An `auth` for googleapis that sends `token` (one shared HTTP client, no per-subject objects). */
  bearer(token: string): BearerAuth {
    const auth = {
      request: (opts: gaxios.GaxiosOptions) =>
        this.http.request({
          ...opts,
          headers: gaxios.Gaxios.mergeHeaders(opts.headers, { authorization: `Bearer ${token}` }),
        }),
    };
    return auth as unknown as BearerAuth;
  }

  /** A usable access token for `subject` (the admin's carries the Directory scopes too). */
  async token(subject: string, signal: AbortSignal): Promise<string> {
    const sub = subject.toLowerCase();
    const hit = this.tokens.get(sub);
    if (hit && this.usable(sub, hit)) {
      this.stats.local += 1;
      return hit.token;
    }
    let pending = this.inflight.get(sub);
    if (!pending) {
      // Shared by every caller waiting for this subject: bounded by its own timeout, not one caller's signal.
      pending = this.obtain(sub, AbortSignal.timeout(this.opts.timeoutMs)).finally(() =>
        this.inflight.delete(sub),
      );
      this.inflight.set(sub, pending);
    }
    return abortable(pending, signal);
  }

  /** Forgets a subject's token here and in the shared store (after a 401: the next call fetches one). */
  async forget(subject: string): Promise<void> {
    const sub = subject.toLowerCase();
    this.tokens.delete(sub);
    await this.opts.shared?.delete(this.keyOf(sub));
  }

  clear(): void {
    this.tokens.clear();
  }

  /**
   * Stops using every token for `sub`'s scope set issued until now, in this process, whether cached here
   * or in the shared store: after an account-wide refusal, each of them would only earn a 401 (and a
   * wasted provider call) before its own refetch was refused too.
   */
  distrust(sub: string, now = Date.now()): void {
    this.distrustedBefore.set(this.scopesOf(sub), now);
  }

  private usable(sub: string, t: CachedToken): boolean {
    if (t.expiresAt - REFRESH_MARGIN_MS <= Date.now()) {
      return false;
    }
    const before = this.distrustedBefore.get(this.scopesOf(sub));
    return before === undefined || (t.issuedAt ?? t.expiresAt - MAX_LIFETIME_MS) > before;
  }

  private keyOf(sub: string): string {
    return tokenKey(['google', this.keyScope, sub, this.scopesOf(sub)]);
  }

  private scopesOf(sub: string): string {
    const scopes =
      sub === this.admin ? [...GOOGLE_SCOPES.directory, ...GOOGLE_SCOPES.calendar] : GOOGLE_SCOPES.calendar;
    return scopes.join(' ');
  }

  private async obtain(sub: string, signal: AbortSignal): Promise<string> {
    const shared = this.opts.shared;
    const key = this.keyOf(sub);
    if (shared) {
      const deadline = Date.now() + WAIT_MAX_MS;
      for (;;) {
        const found = await shared.getOrClaim(key, CLAIM_MS);
        if (typeof found === 'object' && this.usable(sub, found)) {
          this.stats.shared += 1;
          this.tokens.set(sub, found);
          return found.token;
        }
        if (found !== 'busy' || Date.now() >= deadline || signal.aborted) {
          break;
        }
        // Another process is fetching this subject's token: wait for it rather than sign again.
        await new Promise((r) => setTimeout(r, WAIT_STEP_MS));
      }
    }
    const fetched = await this.fetchToken(sub, signal);
    this.tokens.set(sub, fetched);
    await shared?.set(key, fetched);
    return fetched.token;
  }

  /** The key file's private key, parsed once (lazily: creating the adapter does no work). */
  private signingKey(): KeyObject {
    if (!this.privateKey) {
      try {
        this.privateKey = createPrivateKey(this.opts.key.private_key);
      } catch {
        throw new ProviderError(
          'google',
          'invalid_credentials',
          "The service account key's private_key is not a readable PEM private key",
        );
      }
    }
    return this.privateKey;
  }

  private async fetchToken(sub: string, signal: AbortSignal): Promise<CachedToken> {
    const assertion = signedAssertion(this.opts.key, this.signingKey(), sub, this.scopesOf(sub));
    this.stats.signatures += 1;
    const issuedAt = Date.now();
    const res = await this.http
      .request<unknown>({
        url: this.opts.tokenUrl,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        data: new URLSearchParams({
          grant_type: JWT_BEARER,
          assertion,
        }).toString(),
        signal,
      })
      .catch((err: unknown) => {
        if (
          ACCOUNT_WIDE.has(
            String((err as { response?: { data?: { error?: unknown } } })?.response?.data?.error),
          )
        ) {
          this.distrust(sub, issuedAt);
        }
        throw err;
      });
    const body = res.data as { access_token?: unknown; expires_in?: unknown } | null;
    const token = body?.access_token;
    const expiresIn = Number(body?.expires_in);
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096 || !(expiresIn > 0)) {
      throw new ProviderError(
        'google',
        'provider_unavailable',
        'The token endpoint answered without a usable access token',
      );
    }
    return { token, expiresAt: Date.now() + Math.min(expiresIn, 3600) * 1000, issuedAt };
  }
}

/** A signed JWT-bearer assertion (RFC 7523, RS256) asking for `scope` as `subject`, valid an hour. */
function signedAssertion(
  key: GoogleServiceAccountKey,
  privateKey: KeyObject,
  subject: string,
  scope: string,
): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'RS256', typ: 'JWT', ...(key.private_key_id ? { kid: key.private_key_id } : {}) };
  const claims = {
    iss: key.client_email,
    sub: subject,
    scope,
    aud: GOOGLE_AUDIENCE,
    iat: now,
    exp: now + 3600,
  };
  const unsigned = `${b64(header)}.${b64(claims)}`;
  return `${unsigned}.${sign('RSA-SHA256', Buffer.from(unsigned), privateKey).toString('base64url')}`;
}

function b64(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

/**
 * One JWT-bearer grant (RFC 7523) for `subject` with `scope`, outside the pool: for the rare calls that
 * need a scope no pooled token carries (groups for a selection, the domain for org information). A
 * refusal is thrown with the token endpoint's own body, as gaxios would, so googleError maps it; an
 * unreadable private key is `invalid_credentials`.
 */
export async function grantScopedToken(
  input: { key: GoogleServiceAccountKey; tokenUrl: string; subject: string; scope: string },
  signal: AbortSignal,
): Promise<CachedToken> {
  let assertion: string;
  try {
    assertion = signedAssertion(
      input.key,
      createPrivateKey(input.key.private_key),
      input.subject,
      input.scope,
    );
  } catch (err) {
    throw new ProviderError('google', 'invalid_credentials', 'The private key cannot be read', {
      cause: err,
    });
  }
  const issuedAt = Date.now();
  const res = await fetch(input.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }),
    signal,
  });
  const data = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown };
  if (!res.ok || typeof data.access_token !== 'string') {
    throw Object.assign(new Error('Google refused the token request'), {
      status: res.status,
      response: { status: res.status, data, headers: res.headers },
    });
  }
  const ttlSecs =
    typeof data.expires_in === 'number' && data.expires_in > 0 ? Math.min(data.expires_in, 3600) : 3600;
  return { token: data.access_token, expiresAt: issuedAt + ttlSecs * 1000, issuedAt };
}
