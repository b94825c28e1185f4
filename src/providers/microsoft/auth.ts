import {
  ConfidentialClientApplication,
  type INetworkModule,
  LogLevel,
  type NetworkRequestOptions,
  type NetworkResponse,
  ServerError,
} from '@azure/msal-node';
import type { Logger } from '../../logger.js';
import { parseRetryAfter } from '../signals.js';
import type { MicrosoftCredentials } from '../types.js';

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
const DEFAULT_LOGIN_ORIGIN = 'https://login.microsoftonline.com';

/** A 429/5xx from the token endpoint, with its Retry-After. */
export class TokenEndpointError extends ServerError {
  constructor(
    error: string,
    description: string,
    subError: string | undefined,
    errorNo: string | undefined,
    status: number,
    readonly retryAfterMs: number | undefined,
  ) {
    super(error, '', description, subError, errorNo, status);
    this.name = 'TokenEndpointError';
  }
}

/**
 * MSAL's HTTP client, pointed at MICROSOFT_LOGIN_URL. MSAL insists on an https authority
 * (`authority_uri_insecure`), so the authority stays `https://login.microsoftonline.com/{tenant}` and
 * this client rewrites the origin of every request instead (providers.md §3.2, variant B): that works
 * for a plain-http sandbox and is a no-op against the real host. Plain `fetch`, with a timeout.
 */
class LoginNetworkClient implements INetworkModule {
  constructor(
    private readonly loginUrl: string,
    private readonly timeoutMs: number,
  ) {}

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  private async send<T>(
    method: string,
    url: string,
    options?: NetworkRequestOptions,
  ): Promise<NetworkResponse<T>> {
    const target = url.startsWith(DEFAULT_LOGIN_ORIGIN)
      ? this.loginUrl + url.slice(DEFAULT_LOGIN_ORIGIN.length)
      : url;
    const res = await fetch(target, {
      method,
      ...(options?.headers ? { headers: options.headers } : {}),
      ...(options?.body === undefined ? {} : { body: options.body }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    let body: unknown = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { error: 'invalid_response', error_description: text.slice(0, 200) };
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      headers[k] = v;
    });
    if (res.status === 429 || res.status >= 500) {
      // Thrown, not returned: for a returned 429/5xx MSAL would remember the failure (for Retry-After
      // whole seconds, else 60 s) and replay it locally without a status. A thrown AuthError passes
      // through MSAL unchanged, so the status and Retry-After reach errors.ts and our queue decides
      // when to try again.
      const b = body as {
        error?: string;
        error_description?: string;
        error_codes?: number[];
        suberror?: string;
      };
      throw new TokenEndpointError(
        b.error ?? 'temporarily_unavailable',
        b.error_description ?? `token endpoint answered ${res.status}`,
        b.suberror,
        b.error_codes?.[0] === undefined ? undefined : String(b.error_codes[0]),
        res.status,
        parseRetryAfter(headers['retry-after']),
      );
    }
    return { headers, body: body as T, status: res.status };
  }
}

export type MicrosoftTokenSourceOptions = {
  credentials: MicrosoftCredentials;
  loginUrl: string;
  timeoutMs: number;
  logger: Logger;
};

/** MSAL refreshes an app-only token this long before it expires; the held copy is dropped then too. */
const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * App-only tokens from the client-credentials grant, through msal-node's ConfidentialClientApplication:
 * MSAL fetches and caches the token; this holds the value until MSAL would refresh it (5 minutes before
 * expiry), so one Service Account costs one token request per hour per process and no cache lookup
 * per Graph request.
 */
export class MicrosoftTokenSource {
  private readonly app: ConfidentialClientApplication;
  private readonly network: LoginNetworkClient;
  private pending: Promise<string> | undefined;
  /** The last token, as a plain value, and until when it is used without asking MSAL. */
  private held: { token: string; until: number } | undefined;

  constructor(opts: MicrosoftTokenSourceOptions) {
    this.network = new LoginNetworkClient(opts.loginUrl.replace(/\/+$/, ''), opts.timeoutMs);
    const log = opts.logger;
    this.app = new ConfidentialClientApplication({
      auth: {
        clientId: opts.credentials.clientId,
        clientSecret: opts.credentials.clientSecret,
        authority: `${DEFAULT_LOGIN_ORIGIN}/${opts.credentials.tenantId}`,
      },
      system: {
        networkClient: this.network,
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          loggerCallback: (level, message) => {
            if (level <= LogLevel.Error) {
              log.debug({ msal: message }, 'msal error');
            }
          },
        },
      },
    });
  }

  /**
   * A cached token, or a new one. `fresh` skips the cache (after Graph refused the cached one).
   * Concurrent callers share one request: MSAL does not, and a worker starting 20 calls at once
   * would otherwise fetch 20 tokens.
   */
  token(fresh = false): Promise<string> {
    if (!fresh && this.held && Date.now() < this.held.until) {
      // MSAL's own cache lookup costs more than the Graph request it is for (authority, filters).
      return Promise.resolve(this.held.token);
    }
    if (this.pending && !fresh) {
      return this.pending;
    }
    const request = this.acquire(fresh).finally(() => {
      if (this.pending === request) {
        this.pending = undefined;
      }
    });
    this.pending = request;
    return request;
  }

  private async acquire(fresh: boolean): Promise<string> {
    const result = await this.app.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE], skipCache: fresh });
    if (!result?.accessToken) {
      throw new Error('The token endpoint returned no access token');
    }
    // Held until MSAL would refresh it itself: 5 minutes before expiry, or its refreshOn if sooner.
    const until = Math.min(
      (result.expiresOn?.getTime() ?? 0) - TOKEN_REFRESH_MARGIN_MS,
      result.refreshOn?.getTime() ?? Number.POSITIVE_INFINITY,
    );
    this.held =
      Number.isFinite(until) && until > Date.now() ? { token: result.accessToken, until } : undefined;
    return result.accessToken;
  }

  clear(): void {
    this.held = undefined;
    this.app.clearCache();
  }
}

/**
 * The application permissions (`roles`) an app-only token carries. Entra issues the token even when
 * admin consent was withdrawn, just without roles (providers.md §3.1 caveat); undefined when the token
 * is not a readable JWT.
 */
export function tokenRoles(token: string): string[] | undefined {
  const payload = token.split('.')[1];
  if (!payload) {
    return undefined;
  }
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { roles?: unknown };
    return Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return undefined;
  }
}
