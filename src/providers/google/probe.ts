import { JWT } from 'google-auth-library';
import { admin_directory_v1 } from 'googleapis/build/src/apis/admin/directory_v1.js';
import { calendar_v3 } from 'googleapis/build/src/apis/calendar/v3.js';
import { callProvider } from '../call.js';
import type { PermissionProbe, ProbeOptions, ProbeOutcome, ProbeResult } from '../probe.js';
import { REAL_PROVIDER_URLS, type ResolvedRuntime } from '../runtime.js';
import { abortable } from '../signals.js';
import { type GoogleCredentials, isProviderError, type ProviderFailure } from '../types.js';
import { GOOGLE_SCOPES } from './auth.js';
import { type GoogleCallKind, googleError } from './errors.js';
import { GOOGLE_DOMAIN_SCOPE } from './org-info.js';

const SCOPE = 'https://www.googleapis.com/auth/';
/**
 * The scope each Directory check needs, one token each, so a scope missing from the domain-wide
 * delegation is named (Google refuses a token asking for any scope not delegated).
 */
export const GOOGLE_CHECK_SCOPES = {
  directory_users: `${SCOPE}admin.directory.user.readonly`,
  rooms: `${SCOPE}admin.directory.resource.calendar.readonly`,
  buildings: `${SCOPE}admin.directory.resource.calendar.readonly`,
  groups: `${SCOPE}admin.directory.group.readonly`,
  calendar: `${SCOPE}calendar`,
} as const;

/**
 * Every scope the product asks the delegation for: provisioning's (auth.ts), the checks', and the
 * domain list read at registration (org-info.ts).
 */
export function googleDelegationScopes(): string[] {
  return [
    ...new Set([
      ...GOOGLE_SCOPES.directory,
      ...GOOGLE_SCOPES.calendar,
      ...Object.values(GOOGLE_CHECK_SCOPES),
      GOOGLE_DOMAIN_SCOPE,
    ]),
  ];
}

const DEFAULT_TOKEN_URL = 'https://oauth2.googleapis.com/token';
type CallOptions = { signal: AbortSignal; retry: false };

/**
 * The live permission check for a Google service account with domain-wide delegation: the admin's
 * token with every provisioning scope, then each Directory list with a token for just its scope, a
 * user's calendar as that user, a room's calendar as the admin.
 */
export class GooglePermissionProbe implements PermissionProbe {
  private readonly admin: admin_directory_v1.Admin;
  private readonly calendar: calendar_v3.Calendar;
  private readonly customer: string;

  constructor(
    private readonly credentials: GoogleCredentials,
    private readonly rt: ResolvedRuntime,
  ) {
    this.customer = credentials.customerId || 'my_customer';
    const apiUrl = rt.urls.googleApiUrl.replace(/\/+$/, '');
    this.admin = new admin_directory_v1.Admin({ rootUrl: `${apiUrl}/` });
    this.calendar = new calendar_v3.Calendar(
      apiUrl === REAL_PROVIDER_URLS.googleApiUrl ? {} : { rootUrl: `${apiUrl}/` },
    );
  }

  async secretExpiry(): Promise<undefined> {
    return undefined;
  }

  async close(): Promise<void> {}

  async run(opts: ProbeOptions = {}): Promise<ProbeResult[]> {
    const signal = opts.signal;
    const adminEmail = this.credentials.adminEmail;
    const results: ProbeResult[] = [];
    const productScopes = [...GOOGLE_SCOPES.directory, ...GOOGLE_SCOPES.calendar];
    const token = await this.outcome(
      'token',
      async (s) => {
        await abortable(this.jwt(adminEmail, productScopes).authorize(), s);
        return `an access token for ${adminEmail} with ${productScopes.length} scopes`;
      },
      signal,
    );
    results.push({ check: 'token', target: productScopes.join(' '), outcome: token });
    // A wrong key or admin fails every call the same way; only delegation is worth probing scope by scope.
    const blocked =
      token.status === 'failed' && token.error.reason !== 'delegation_not_granted' ? token.error : undefined;
    const skip = (check: ProbeResult['check'], target: string): ProbeResult => ({
      check,
      target,
      outcome: { status: 'skipped', detail: `not tried: the token check failed (${blocked?.reason})` },
    });

    let sampleUser: string | undefined = opts.sampleMailbox;
    let sampleRoom: string | undefined;
    const directory = async <T>(
      check: 'directory_users' | 'rooms' | 'buildings' | 'groups',
      op: string,
      fn: (auth: JWT, o: CallOptions) => Promise<T>,
      describe: (v: T) => string,
    ) => {
      const scope = GOOGLE_CHECK_SCOPES[check];
      if (blocked) {
        results.push(skip(check, scope));
        return;
      }
      const auth = this.jwt(adminEmail, [scope]);
      const outcome = await this.outcome(
        check,
        async (s) =>
          describe(
            await this.call('google.directory', op, 'directory.list', s, () =>
              fn(auth, { signal: s, retry: false }),
            ),
          ),
        signal,
      );
      results.push({ check, target: scope, outcome });
    };

    await directory(
      'directory_users',
      'users.list',
      (auth, o) =>
        this.admin.users.list(
          {
            auth,
            customer: this.customer,
            maxResults: 20,
            fields: 'users(primaryEmail,suspended,archived,isMailboxSetup)',
          },
          o,
        ),
      (res) => {
        const users = res.data.users ?? [];
        const usable = users.filter((u) => !u.suspended && !u.archived && u.isMailboxSetup !== false);
        sampleUser ??=
          usable.find((u) => u.primaryEmail?.toLowerCase() !== adminEmail.toLowerCase())?.primaryEmail ??
          usable[0]?.primaryEmail ??
          undefined;
        return `users.list answered (${users.length} user(s) on a 20-user page)`;
      },
    );
    await directory(
      'rooms',
      'resources.calendars.list',
      (auth, o) =>
        this.admin.resources.calendars.list(
          { auth, customer: this.customer, maxResults: 1, fields: 'items(resourceEmail)' },
          o,
        ),
      (res) => {
        sampleRoom = res.data.items?.[0]?.resourceEmail ?? undefined;
        return `resources.calendars.list answered (${sampleRoom ? `first room ${sampleRoom}` : 'no rooms'})`;
      },
    );
    await directory(
      'buildings',
      'resources.buildings.list',
      (auth, o) => this.admin.resources.buildings.list({ auth, customer: this.customer, maxResults: 1 }, o),
      (res) =>
        `resources.buildings.list answered (${res.data.buildings?.length ? 'buildings listed' : 'no buildings'})`,
    );
    await directory(
      'groups',
      'groups.list',
      (auth, o) => this.admin.groups.list({ auth, customer: this.customer, maxResults: 1 }, o),
      (res) => `groups.list answered (${res.data.groups?.length ? 'groups listed' : 'no groups'})`,
    );

    const calendarScope = GOOGLE_CHECK_SCOPES.calendar;
    if (blocked) {
      results.push(skip('calendar_user', calendarScope), skip('calendar_room', calendarScope));
    } else {
      results.push(await this.userCalendar(sampleUser, signal), await this.roomCalendar(sampleRoom, signal));
    }
    results.push({
      check: 'access_policy',
      target: '',
      outcome: { status: 'skipped', detail: 'Microsoft only: Google has no per-app mailbox policy' },
    });
    return results;
  }

  private async userCalendar(
    email: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ProbeResult> {
    if (!email) {
      return {
        check: 'calendar_user',
        target: GOOGLE_CHECK_SCOPES.calendar,
        outcome: { status: 'skipped', detail: 'no usable user was listed to try' },
      };
    }
    const auth = this.jwt(email, [GOOGLE_CHECK_SCOPES.calendar]);
    const outcome = await this.outcome(
      'calendar_user',
      async (s) => {
        const res = await this.call(
          'google.calendar',
          'calendarList.list',
          'calendar',
          s,
          () =>
            this.calendar.calendarList.list(
              { auth, maxResults: 1, fields: 'items(id)' },
              { signal: s, retry: false },
            ),
          email,
        );
        return `calendarList.list as ${email} answered (${res.data.items?.length ?? 0} calendar(s) on a 1-item page)`;
      },
      signal,
    );
    return { check: 'calendar_user', target: email, outcome };
  }

  private async roomCalendar(
    email: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ProbeResult> {
    if (!email) {
      return {
        check: 'calendar_room',
        target: GOOGLE_CHECK_SCOPES.calendar,
        outcome: { status: 'skipped', detail: 'the directory lists no room to try' },
      };
    }
    const admin = this.credentials.adminEmail;
    const auth = this.jwt(admin, [GOOGLE_CHECK_SCOPES.calendar]);
    const outcome = await this.outcome(
      'calendar_room',
      async (s) => {
        await this.call(
          'google.calendar',
          'calendars.get',
          'calendar',
          s,
          () =>
            this.calendar.calendars.get(
              { auth, calendarId: email, fields: 'id' },
              { signal: s, retry: false },
            ),
          admin,
        );
        return `calendars.get of ${email} as ${admin} answered`;
      },
      signal,
    );
    return { check: 'calendar_room', target: email, outcome };
  }

  private async outcome(
    check: string,
    fn: (signal: AbortSignal) => Promise<string>,
    signal: AbortSignal | undefined,
  ): Promise<ProbeOutcome> {
    try {
      const s = signal ?? AbortSignal.timeout(this.rt.timeoutMs);
      return { status: 'ok', detail: await fn(s) };
    } catch (err) {
      const error: ProviderFailure = isProviderError(err)
        ? err
        : googleError(err, check === 'token' ? 'token' : 'directory.list');
      return { status: 'failed', error };
    }
  }

  private call<T>(
    api: 'google.directory' | 'google.calendar',
    op: string,
    kind: GoogleCallKind,
    signal: AbortSignal,
    fn: () => Promise<T>,
    mailbox?: string,
  ): Promise<T> {
    return callProvider(
      this.rt,
      { provider: 'google', api, op, ...(mailbox ? { mailbox } : {}) },
      signal,
      (s) => abortable(fn(), s),
      // A token refused for this call's subject or scope maps like any token-endpoint answer.
      (err) => googleError(err, kind),
    );
  }

  /** A JWT client for `subject` with exactly `scopes`, its token POST sent to GOOGLE_TOKEN_URL. */
  private jwt(subject: string, scopes: string[]): JWT {
    const key = this.credentials.key;
    const jwt = new JWT({
      email: key.client_email,
      key: key.private_key,
      ...(key.private_key_id ? { keyId: key.private_key_id } : {}),
      scopes,
      subject,
      transporterOptions: {
        timeout: this.rt.timeoutMs,
        retry: false,
        retryConfig: { retry: 0, noResponseRetries: 0 },
      },
    });
    const tokenUrl = this.rt.urls.googleTokenUrl;
    if (tokenUrl !== DEFAULT_TOKEN_URL) {
      // google-auth-library hard-codes the token URL (providers.md §1.2): rewritten on the JWT's transporter.
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
