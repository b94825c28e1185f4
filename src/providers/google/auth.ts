import { JWT } from 'google-auth-library';
import { LruMap } from '../lru.js';
import type { GoogleServiceAccountKey } from '../types.js';

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

/** The token URL google-auth-library hard-codes (gtoken); rewritten on the JWT's own transporter. */
const DEFAULT_TOKEN_URL = 'https://oauth2.googleapis.com/token';

export type GoogleAuthPoolOptions = {
  key: GoogleServiceAccountKey;
  adminEmail: string;
  tokenUrl: string;
  /** Timeout of each token request. */
  timeoutMs: number;
  /** Clients (one token each) kept; least recently used evicted. */
  maxSubjects: number;
};

/**
 * One JWT client per impersonated subject, each caching its own token until 5 minutes before expiry
 * (google-auth-library's eager refresh), behind an LRU bound so a 100k-user run does not keep 100k
 * clients. Subjects are case-folded: Google treats addresses case-insensitively.
 */
export class GoogleAuthPool {
  private readonly clients: LruMap<string, JWT>;
  private readonly admin: string;

  constructor(private readonly opts: GoogleAuthPoolOptions) {
    this.clients = new LruMap(opts.maxSubjects);
    this.admin = opts.adminEmail.toLowerCase();
  }

  get size(): number {
    return this.clients.size;
  }

  /** The client impersonating `subject` (the admin's carries the Directory scopes too). */
  client(subject: string): JWT {
    const sub = subject.toLowerCase();
    let jwt = this.clients.get(sub);
    if (!jwt) {
      jwt = this.create(sub);
      this.clients.set(sub, jwt);
    }
    return jwt;
  }

  /** Forgets a subject's client and token (after a 401: the next call fetches a fresh token). */
  forget(subject: string): void {
    this.clients.delete(subject.toLowerCase());
  }

  clear(): void {
    this.clients.clear();
  }

  private create(subject: string): JWT {
    const scopes =
      subject === this.admin
        ? [...GOOGLE_SCOPES.directory, ...GOOGLE_SCOPES.calendar]
        : [...GOOGLE_SCOPES.calendar];
    const jwt = new JWT({
      email: this.opts.key.client_email,
      key: this.opts.key.private_key,
      ...(this.opts.key.private_key_id ? { keyId: this.opts.key.private_key_id } : {}),
      scopes,
      subject,
      // These are the defaults of every request on this client's transporter: the token POST (gtoken
      // asks gaxios to retry POSTs on 429/5xx) and the API calls googleapis sends through it. No
      // retries at all: the queue owns the retry policy.
      transporterOptions: {
        timeout: this.opts.timeoutMs,
        retry: false,
        retryConfig: { retry: 0, noResponseRetries: 0 },
      },
    });
    const tokenUrl = this.opts.tokenUrl;
    if (tokenUrl !== DEFAULT_TOKEN_URL) {
      // The key file's token_uri is never read and there is no tokenUrl option (providers.md §1.2):
      // the token POST is redirected on the JWT's own transporter.
      jwt.transporter.interceptors.request.add({
        resolved: async (cfg) => {
          if (String(cfg.url) === DEFAULT_TOKEN_URL) {
            cfg.url = new URL(tokenUrl);
          }
          return cfg;
        },
      });
    }
    return jwt;
  }
}
