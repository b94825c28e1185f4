/**
 * The provider port: the only operations the service needs from Google Workspace or Microsoft 365, in
 * our own types (no SDK type leaks out of providers/). Implementations: providers/google/,
 * providers/microsoft/; an in-memory fake in providers/fake/.
 */
import { AppError, type ProviderReason, RateLimitedError } from '../errors.js';
import { REASONS } from '../lib/reasons.js';
import { storableText } from '../lib/text.js';

export type ProviderName = 'google' | 'microsoft';

/** A Google service-account key file (the fields we use). */
export type GoogleServiceAccountKey = {
  type: 'service_account';
  client_email: string;
  private_key: string;
  private_key_id?: string | undefined;
  client_id?: string | undefined;
  project_id?: string | undefined;
};

export type GoogleCredentials = {
  provider: 'google';
  domain: string;
  /** The admin user impersonated for Directory calls and for reaching room calendars. */
  adminEmail: string;
  key: GoogleServiceAccountKey;
  /** Directory customer; defaults to `my_customer`. */
  customerId?: string | undefined;
};

export type MicrosoftCredentials = {
  provider: 'microsoft';
  domain: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
};

export type ServiceCredentials = GoogleCredentials | MicrosoftCredentials;

/** What a mailbox is. Microsoft lists room and shared mailboxes in /users too: they are told apart. */
export type MailboxKind = 'user' | 'room' | 'shared_mailbox';

export type DirectoryUser = {
  providerId: string;
  email: string;
  name: string;
  kind: 'user' | 'shared_mailbox';
  suspended: boolean;
  /** False when the directory says the user has no mailbox/calendar (never set up, no licence). */
  hasMailbox: boolean;
  /** A guest from another organization (Microsoft `userType: Guest`): never provisioned. */
  guest?: boolean | undefined;
};

export type DirectoryRoom = {
  providerId: string;
  email: string;
  name: string;
  capacity: number | null;
  building: string | null;
  floor: string | null;
  /** Provider's resource type / category, e.g. "Conference Room", "Equipment". */
  resourceType: string | null;
  /**
   * What it is, as the API and directory entries say (`resource_type`): Google `resourceCategory`
   * OTHER and Microsoft equipment mailboxes are `equipment`. Absent: a room.
   */
  resourceKind?: 'room' | 'equipment' | undefined;
};

/** One page of a directory listing; `nextCursor` resumes the listing after a restart. */
export type DirectoryPage<T> = { items: T[]; nextCursor: string | null };

/** A mailbox resolved by email: a Directory user, a room or a shared mailbox. */
export type Mailbox =
  | ({ kind: 'user' | 'shared_mailbox' } & Omit<DirectoryUser, 'kind'>)
  | ({ kind: 'room' } & DirectoryRoom & { suspended: false; hasMailbox: true });

export type MailboxCalendar = {
  providerCalendarId: string;
  name: string;
  readonly: boolean;
  primary: boolean;
};

export type ListOptions = { pageSize?: number; signal?: AbortSignal };

export interface DirectoryProvider {
  readonly provider: ProviderName;
  /** Checks the credential live: obtains a token and reads one directory page. Throws ProviderError. */
  verify(signal?: AbortSignal): Promise<{ usersOnFirstPage: number }>;
  listUsersPage(cursor: string | null, opts?: ListOptions): Promise<DirectoryPage<DirectoryUser>>;
  listRoomsPage(cursor: string | null, opts?: ListOptions): Promise<DirectoryPage<DirectoryRoom>>;
  /** Resolves one email to a user, room or shared mailbox; `user_not_found` when it is none of them. */
  findMailbox(email: string, signal?: AbortSignal): Promise<Mailbox>;
  /**
   * Proves the mailbox's calendar can be reached with the Service Account (Google: impersonate the user,
   * or the admin for a room; Microsoft: app-only token) and lists its calendars, primary first.
   */
  listCalendars(
    mailbox: Pick<Mailbox, 'kind' | 'email' | 'providerId'>,
    signal?: AbortSignal,
  ): Promise<MailboxCalendar[]>;
  /**
   * Many rooms' calendars in few calls, where the provider can (Google: `freebusy.query` as the
   * admin, 50 rooms a call): each room's calendars, or its own refusal. Throws when a call itself
   * fails. Absent: read rooms one by one with `listCalendars`.
   */
  listRoomCalendars?(
    rooms: Pick<Mailbox, 'email' | 'name'>[],
    signal?: AbortSignal,
  ): Promise<Map<string, MailboxCalendar[] | ProviderError>>;
  /**
   * The organization's domains (Google Directory `domains.list` with their aliases, Graph `/domains`
   * verified ones), lower-cased; checked against a Service Account's `domain` at registration.
   */
  listDomains?(signal?: AbortSignal): Promise<string[]>;
  /** Releases cached clients. */
  close(): Promise<void>;
  /** Free/busy and events of mailboxes' calendars (absent where a provider does not serve them). */
  readonly calendarData?: CalendarDataProvider;
  /** Listing part of a directory (org units, groups, domains); absent where a provider has none. */
  readonly selection?: SelectionProvider;
}

/** A Google org unit: its users, and with `includeChildren` those of every unit below it. */
export type OrgUnitFilter = { path: string; includeChildren: boolean };

/** Something a selection names that the directory must have. */
export type SelectionTarget = { kind: 'org_unit'; path: string } | { kind: 'group'; key: string };

/**
 * The listings behind a selection (services/selection-listing.ts), each paged like `listUsersPage`
 * and returning Directory users in full (rooms are never part of them).
 */
export interface SelectionProvider {
  /** Google: users.list with `query=orgUnitPath='…'`; Microsoft has no org units (refused). */
  listOrgUnitUsersPage(
    unit: OrgUnitFilter,
    cursor: string | null,
    opts?: ListOptions,
  ): Promise<DirectoryPage<DirectoryUser>>;
  /** Users whose primary address is in `domain`. */
  listDomainUsersPage(
    domain: string,
    cursor: string | null,
    opts?: ListOptions,
  ): Promise<DirectoryPage<DirectoryUser>>;
  /** Users of a group and of every group nested in it, each once. */
  listGroupMembersPage(
    group: string,
    cursor: string | null,
    opts?: ListOptions,
  ): Promise<DirectoryPage<DirectoryUser>>;
  /** The org unit or group, looked up live; null when the directory has no such thing. */
  findTarget(target: SelectionTarget, signal?: AbortSignal): Promise<{ id: string; name: string } | null>;
}

export type { ProviderReason } from '../errors.js';

/**
 * The stable reason codes every provider failure becomes (listed in errors.ts, as they are error
 * codes too), and whether each is worth retrying. They are the `error_key` of callbacks and run items
 * (documented in the README).
 */
/** Reasons that mean the Service Account itself is broken (not just one mailbox). */
export { SERVICE_ACCOUNT_REASONS } from '../lib/reasons.js';

/** A reason other than `rate_limited`: a provider's refusal, or its being unreachable. */
export type ProviderFailureReason = Exclude<ProviderReason, 'rate_limited'>;

export type ProviderErrorOptions = { status?: number; providerCode?: string; cause?: unknown };

/**
 * A provider refused (a final reason) or could not be reached (`provider_unavailable`). A provider's
 * rate limit is a ProviderRateLimitedError instead: `providerError()` picks the class by reason.
 */
export class ProviderError extends AppError<ProviderFailureReason> {
  readonly reason: ProviderFailureReason;
  readonly provider: ProviderName;

  constructor(
    provider: ProviderName,
    reason: ProviderFailureReason,
    message: string,
    opts: ProviderErrorOptions = {},
  ) {
    // Messages quote provider answers and are stored (run items, Service Account errors).
    super(reason, storableText(message), {
      retryable: REASONS[reason].retryable,
      context: { provider, status: opts.status, providerCode: opts.providerCode },
      cause: opts.cause,
    });
    this.name = 'ProviderError';
    this.provider = provider;
    this.reason = reason;
  }
}

/**
 * A provider, or the quota limiter in front of it, throttled: the one rate-limit type
 * (RateLimitedError), naming the provider and carrying the `rate_limited` reason like any failure.
 */
export class ProviderRateLimitedError extends RateLimitedError {
  readonly reason = 'rate_limited' as const;
  readonly provider: ProviderName;

  constructor(
    provider: ProviderName,
    retryAfterMs: number,
    message: string,
    opts: ProviderErrorOptions = {},
  ) {
    super(retryAfterMs, storableText(message), {
      context: { provider, status: opts.status, providerCode: opts.providerCode },
      cause: opts.cause,
    });
    this.name = 'ProviderRateLimitedError';
    this.provider = provider;
  }
}

/** Whatever a provider call throws: a refusal, an outage or a rate limit, each with its reason. */
export type ProviderFailure = ProviderError | ProviderRateLimitedError;

/** How long a rate-limited call waits when the provider names no delay (no Retry-After). */
export const DEFAULT_RETRY_AFTER_MS = 1000;

/** The failure for `reason`: a ProviderRateLimitedError for `rate_limited`, else a ProviderError. */
export function providerError(
  provider: ProviderName,
  reason: ProviderReason,
  message: string,
  opts: ProviderErrorOptions & { retryAfterMs?: number | undefined } = {},
): ProviderFailure {
  const { retryAfterMs, ...rest } = opts;
  return reason === 'rate_limited'
    ? new ProviderRateLimitedError(provider, retryAfterMs ?? DEFAULT_RETRY_AFTER_MS, message, rest)
    : new ProviderError(provider, reason, message, rest);
}

export function isProviderError(err: unknown): err is ProviderFailure {
  return err instanceof ProviderError || err instanceof ProviderRateLimitedError;
}

/** A calendar to read: the mailbox it belongs to and the provider's id of the calendar. */
export type CalendarRef = {
  mailbox: Pick<Mailbox, 'kind' | 'email' | 'providerId'>;
  providerCalendarId: string;
  primary: boolean;
};

/** A time window, `end` exclusive. */
export type TimeWindow = { start: Date; end: Date };

export type BusyPeriod = { start: Date; end: Date; status: 'busy' | 'tentative' };

/** Free/busy of one calendar, or the failure the provider reported for it alone. */
export type CalendarFreeBusy = { ok: true; busy: BusyPeriod[] } | { ok: false; error: ProviderFailure };

export type EventPerson = { email: string | null; name: string | null };

/** A calendar event (one instance of a series) in our own shape. */
export type CalendarEvent = {
  /** Unique within the calendar (an instance of a series has its own). */
  providerEventId: string;
  seriesId: string | null;
  summary: string | null;
  description: string | null;
  location: string | null;
  /** Timed: instants, with the zone the event was created in (when the provider says). */
  start: { at: Date; timeZone: string | null } | { date: string };
  end: { at: Date; timeZone: string | null } | { date: string };
  status: 'confirmed' | 'tentative' | 'cancelled';
  transparency: 'opaque' | 'transparent';
  private: boolean;
  organizer: EventPerson | null;
  attendees: (EventPerson & { status: 'accepted' | 'tentative' | 'declined' | 'needs_action' })[];
  created: Date | null;
  updated: Date | null;
};

export type EventsPageOptions = {
  cursor: string | null;
  includeDeleted: boolean;
  /** Only events changed since. */
  updatedSince?: Date | undefined;
  pageSize?: number | undefined;
  signal?: AbortSignal | undefined;
};

/** The read side of mailboxes' calendars (free/busy and events), on the same quotas as the rest. */
export interface CalendarDataProvider {
  /**
   * Free/busy of many calendars over one window, batched as the provider allows. Per-calendar
   * refusals come back in the map (keyed by `providerCalendarId`); a refusal of the whole call throws.
   */
  freeBusy(
    calendars: CalendarRef[],
    window: TimeWindow,
    signal?: AbortSignal,
  ): Promise<Map<string, CalendarFreeBusy>>;
  /** One page of a calendar's events overlapping the window, recurring series expanded. */
  listEventsPage(
    calendar: CalendarRef,
    window: TimeWindow,
    opts: EventsPageOptions,
  ): Promise<{ items: CalendarEvent[]; nextCursor: string | null }>;
}
