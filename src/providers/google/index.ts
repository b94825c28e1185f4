import { admin_directory_v1 } from 'googleapis/build/src/apis/admin/directory_v1.js';
import { calendar_v3 } from 'googleapis/build/src/apis/calendar/v3.js';
import { type CallSpec, callProvider } from '../call.js';
import { REAL_PROVIDER_URLS, type ResolvedRuntime } from '../runtime.js';
import { abortable } from '../signals.js';
import {
  type DirectoryPage,
  type DirectoryProvider,
  type DirectoryRoom,
  type DirectoryUser,
  type GoogleCredentials,
  type ListOptions,
  type Mailbox,
  type MailboxCalendar,
  ProviderError,
} from '../types.js';
import { type BearerAuth, GoogleAuthPool } from './auth.js';
import { fromCalendarListEntry, fromRoomCalendar, sortCalendars } from './calendar.js';
import { GoogleCalendarData } from './calendar-data.js';
import {
  clampPageSize,
  GOOGLE_MAX_PAGE,
  isGoogleResourceEmail,
  ROOMS_PAGE_FIELDS,
  roomMailbox,
  toDirectoryRoom,
  toDirectoryUser,
  USER_FIELDS,
  USERS_PAGE_FIELDS,
  userMailbox,
} from './directory.js';
import { type GoogleCallKind, googleError } from './errors.js';
import { GoogleOrgInfo } from './org-info.js';
import { roomCalendarsByFreeBusy } from './rooms.js';
import { type AdminCall, GoogleSelection } from './selection.js';

/** Per-call options every googleapis call gets: our signal (with the timeout) and no gaxios retries. */
type CallOptions = { signal: AbortSignal; retry: false };

/** Pages followed at most where we list everything (a mailbox's calendars, a room search). */
const MAX_FOLLOWED_PAGES = 20;

/**
 * Google Workspace through a service account with domain-wide delegation: Admin SDK Directory as the
 * admin subject, Calendar as the mailbox's own subject (a room's calendar as the admin).
 */
export class GoogleDirectoryProvider implements DirectoryProvider {
  readonly provider = 'google' as const;
  private readonly auth: GoogleAuthPool;
  private readonly admin: admin_directory_v1.Admin;
  private readonly calendar: calendar_v3.Calendar;
  /** Free/busy and events (calendar-data.ts), through this instance's tokens and limiter. */
  readonly calendarData: GoogleCalendarData;
  private readonly adminEmail: string;
  private readonly customer: string;
  readonly selection: GoogleSelection;
  /** Domains and building names (org-info.ts). */
  private readonly orgInfo: GoogleOrgInfo;

  constructor(
    credentials: GoogleCredentials,
    private readonly rt: ResolvedRuntime,
  ) {
    this.adminEmail = credentials.adminEmail.toLowerCase();
    this.customer = credentials.customerId || 'my_customer';
    this.auth = new GoogleAuthPool({
      key: credentials.key,
      adminEmail: credentials.adminEmail,
      tokenUrl: rt.urls.googleTokenUrl,
      timeoutMs: rt.timeoutMs,
      maxSubjects: rt.maxCachedSubjects,
      shared: rt.tokenStore,
    });
    const apiUrl = rt.urls.googleApiUrl.replace(/\/+$/, '');
    // A per-API rootUrl is the only override googleapis honours (providers.md §1.3). With the real
    // default, Calendar keeps its own host (www.googleapis.com): admin.googleapis.com does not serve it.
    this.admin = new admin_directory_v1.Admin({ rootUrl: `${apiUrl}/` });
    this.calendar = new calendar_v3.Calendar(
      apiUrl === REAL_PROVIDER_URLS.googleApiUrl ? {} : { rootUrl: `${apiUrl}/` },
    );
    this.calendarData = new GoogleCalendarData(
      this.calendar,
      this.adminEmail,
      (spec, signal, fn) => this.call({ api: 'google.calendar', kind: 'calendar', ...spec }, signal, fn),
      (err, email, signal) => this.refineSubjectError(err, email, signal),
    );
    const asAdmin: AdminCall = (op, kind, signal, fn) => this.asAdmin(op, kind, signal, fn);
    const admin = { credentials, rt, admin: this.admin, customer: this.customer, asAdmin };
    this.orgInfo = new GoogleOrgInfo(admin);
    this.selection = new GoogleSelection({
      ...admin,
      findMailbox: (email, signal) => this.findMailbox(email, signal),
    });
  }

  listDomains(signal?: AbortSignal): Promise<string[]> {
    return this.orgInfo.listDomains(signal);
  }

  async verify(signal?: AbortSignal): Promise<{ usersOnFirstPage: number }> {
    const page = await this.listUsersPage(null, { pageSize: 100, ...(signal ? { signal } : {}) });
    return { usersOnFirstPage: page.items.length };
  }

  async listUsersPage(cursor: string | null, opts: ListOptions = {}): Promise<DirectoryPage<DirectoryUser>> {
    const maxResults = clampPageSize(opts.pageSize, GOOGLE_MAX_PAGE, GOOGLE_MAX_PAGE);
    const res = await this.asAdmin('users.list', 'directory.list', opts.signal, (auth, o) =>
      this.admin.users.list(
        {
          auth,
          customer: this.customer,
          maxResults,
          ...(cursor ? { pageToken: cursor } : {}),
          projection: 'basic',
          fields: USERS_PAGE_FIELDS,
        },
        o,
      ),
    );
    const items = (res.data.users ?? []).map(toDirectoryUser).filter((u) => u !== undefined);
    return { items, nextCursor: res.data.nextPageToken || null };
  }

  async listRoomsPage(cursor: string | null, opts: ListOptions = {}): Promise<DirectoryPage<DirectoryRoom>> {
    const maxResults = clampPageSize(opts.pageSize, GOOGLE_MAX_PAGE, GOOGLE_MAX_PAGE);
    const res = await this.asAdmin('resources.calendars.list', 'directory.list', opts.signal, (auth, o) =>
      this.admin.resources.calendars.list(
        {
          auth,
          customer: this.customer,
          maxResults,
          ...(cursor ? { pageToken: cursor } : {}),
          fields: ROOMS_PAGE_FIELDS,
        },
        o,
      ),
    );
    const rooms = (res.data.items ?? []).map(toDirectoryRoom).filter((r) => r !== undefined);
    // Resources carry a building id: the name comes from buildings.list (cached).
    const items = await this.orgInfo.nameBuildings(rooms, opts.signal);
    return { items, nextCursor: res.data.nextPageToken || null };
  }

  async findMailbox(email: string, signal?: AbortSignal): Promise<Mailbox> {
    if (isGoogleResourceEmail(email)) {
      const room = await this.findRoom(email, signal);
      if (!room) {
        throw new ProviderError('google', 'user_not_found', 'No room resource has this email');
      }
      return roomMailbox(room);
    }
    const user = await this.getUser(email, signal);
    return userMailbox(user);
  }

  async listCalendars(
    mailbox: Pick<Mailbox, 'kind' | 'email' | 'providerId'>,
    signal?: AbortSignal,
  ): Promise<MailboxCalendar[]> {
    if (mailbox.kind === 'room') {
      // Rooms cannot be impersonated: their calendar is read by the admin, by resourceEmail.
      const res = await this.call(
        { api: 'google.calendar', op: 'calendars.get', kind: 'calendar', subject: this.adminEmail },
        signal,
        (auth, o) =>
          this.calendar.calendars.get({ auth, calendarId: mailbox.email, fields: 'id,summary' }, o),
      );
      return [fromRoomCalendar(res.data, mailbox.email)];
    }
    try {
      const calendars: MailboxCalendar[] = [];
      let pageToken: string | undefined;
      for (let page = 0; page < MAX_FOLLOWED_PAGES; page++) {
        const res = await this.call(
          { api: 'google.calendar', op: 'calendarList.list', kind: 'calendar', subject: mailbox.email },
          signal,
          (auth, o) =>
            this.calendar.calendarList.list(
              {
                auth,
                maxResults: 250,
                ...(pageToken ? { pageToken } : {}),
                fields: 'nextPageToken,items(id,summary,summaryOverride,accessRole,primary,deleted)',
              },
              o,
            ),
        );
        for (const entry of res.data.items ?? []) {
          const c = fromCalendarListEntry(entry);
          if (c) {
            calendars.push(c);
          }
        }
        pageToken = res.data.nextPageToken ?? undefined;
        if (!pageToken) {
          break;
        }
      }
      return sortCalendars(calendars);
    } catch (err) {
      throw await this.refineSubjectError(err, mailbox.email, signal);
    }
  }

  listRoomCalendars(
    rooms: Pick<Mailbox, 'email' | 'name'>[],
    signal?: AbortSignal,
  ): Promise<Map<string, MailboxCalendar[] | ProviderError>> {
    const now = Date.now();
    return roomCalendarsByFreeBusy(rooms, (items) =>
      this.call(
        { api: 'google.calendar', op: 'freebusy.query', kind: 'calendar', subject: this.adminEmail },
        signal,
        (auth, o) =>
          this.calendar.freebusy.query(
            {
              auth,
              fields: 'calendars',
              requestBody: {
                timeMin: new Date(now).toISOString(),
                timeMax: new Date(now + 3_600_000).toISOString(),
                items,
              },
            },
            o,
          ),
      ),
    );
  }

  async close(): Promise<void> {
    this.auth.clear();
  }

  private async getUser(email: string, signal: AbortSignal | undefined): Promise<DirectoryUser> {
    const res = await this.asAdmin('users.get', 'directory.user', signal, (auth, o) =>
      this.admin.users.get({ auth, userKey: email, projection: 'basic', fields: USER_FIELDS }, o),
    );
    const user = toDirectoryUser(res.data);
    if (!user) {
      throw new ProviderError('google', 'user_not_found', 'The directory returned no user for this email');
    }
    return user;
  }

  /**
   * Rooms have no get-by-email: search by resourceEmail (Google filters server-side, so this is one
   * page) and match exactly, following a few pages in case the query is not applied.
   */
  private async findRoom(email: string, signal: AbortSignal | undefined): Promise<DirectoryRoom | undefined> {
    const wanted = email.toLowerCase();
    let pageToken: string | undefined;
    for (let page = 0; page < MAX_FOLLOWED_PAGES; page++) {
      const res = await this.asAdmin('resources.calendars.list', 'directory.list', signal, (auth, o) =>
        this.admin.resources.calendars.list(
          {
            auth,
            customer: this.customer,
            query: `resourceEmail="${email.replace(/"/g, '')}"`,
            maxResults: GOOGLE_MAX_PAGE,
            ...(pageToken ? { pageToken } : {}),
            fields: ROOMS_PAGE_FIELDS,
          },
          o,
        ),
      );
      const hit = (res.data.items ?? []).find((r) => r.resourceEmail?.toLowerCase() === wanted);
      if (hit) {
        const room = toDirectoryRoom(hit);
        return room && (await this.orgInfo.nameBuildings([room], signal))[0];
      }
      pageToken = res.data.nextPageToken ?? undefined;
      if (!pageToken) {
        return undefined;
      }
    }
    return undefined;
  }

  /**
   * Google answers `invalid_grant` "Invalid email or User ID" both for a subject that does not exist
   * and for a suspended one (providers.md §7): ask the Directory which it is.
   */
  private async refineSubjectError(
    err: unknown,
    email: string,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    if (
      !(err instanceof ProviderError) ||
      err.reason !== 'user_not_found' ||
      email.toLowerCase() === this.adminEmail
    ) {
      return err;
    }
    try {
      const user = await this.getUser(email, signal);
      if (user.suspended) {
        return new ProviderError(
          'google',
          'user_suspended',
          'The user is suspended or archived in the directory',
          {
            cause: err,
          },
        );
      }
      if (!user.hasMailbox) {
        return new ProviderError(
          'google',
          'mailbox_not_enabled',
          'The user has no Google mailbox or calendar',
          {
            cause: err,
          },
        );
      }
      return err;
    } catch (lookup) {
      return lookup instanceof ProviderError && lookup.reason === 'user_not_found' ? err : lookup;
    }
  }

  private asAdmin<T>(
    op: string,
    kind: GoogleCallKind,
    signal: AbortSignal | undefined,
    fn: (auth: BearerAuth, o: CallOptions) => Promise<T>,
  ): Promise<T> {
    return this.call({ api: 'google.directory', op, kind, subject: this.adminEmail }, signal, fn).catch(
      (err: unknown) => {
        throw this.adminSubjectError(err);
      },
    );
  }

  /** The admin cannot be impersonated: the Service Account as configured no longer works. */
  private adminSubjectError(err: unknown): unknown {
    if (
      err instanceof ProviderError &&
      err.reason === 'user_not_found' &&
      err.context.providerCode === 'invalid_grant'
    ) {
      return new ProviderError(
        'google',
        'invalid_credentials',
        `The admin user cannot be impersonated (${err.message}): it was deleted or suspended`,
        { cause: err },
      );
    }
    return err;
  }

  private call<T>(
    spec: { api: CallSpec['api']; op: string; kind: GoogleCallKind; subject: string },
    signal: AbortSignal | undefined,
    fn: (auth: BearerAuth, o: CallOptions) => Promise<T>,
  ): Promise<T> {
    const callSpec: CallSpec = {
      provider: 'google',
      api: spec.api,
      op: spec.op,
      ...(spec.api === 'google.calendar' ? { mailbox: spec.subject } : {}),
    };
    return callProvider(
      this.rt,
      callSpec,
      signal,
      async (s) => {
        const send = async () =>
          abortable(
            fn(this.auth.bearer(await this.auth.token(spec.subject, s)), { signal: s, retry: false }),
            s,
          );
        try {
          return await send();
        } catch (err) {
          if (!isApiUnauthorized(err)) {
            throw err;
          }
          // The cached token was refused (delegation or key revoked, subject suspended since it was
          // issued): drop it and try once with a fresh one, whose token response names the cause.
          await this.auth.forget(spec.subject);
          return await send();
        }
      },
      (err) => googleError(err, spec.kind),
    );
  }
}

function isApiUnauthorized(err: unknown): boolean {
  const e = err as { response?: { status?: number; data?: { error?: unknown } } };
  return e?.response?.status === 401 && typeof e.response.data?.error === 'object';
}
