import {
  type DirectoryPage,
  type DirectoryProvider,
  type DirectoryRoom,
  type DirectoryUser,
  type ListOptions,
  type Mailbox,
  type MailboxCalendar,
  ProviderError,
  type ProviderName,
  type ProviderReason,
  providerError,
} from '../types.js';

/** The operations of the port, as recorded in `calls` and as targets of scripted failures. */
export type FakeOperation = 'verify' | 'listUsersPage' | 'listRoomsPage' | 'findMailbox' | 'listCalendars';

export type FakeDirectoryOptions = {
  /** Default 'google'. */
  provider?: ProviderName;
  users?: DirectoryUser[];
  rooms?: DirectoryRoom[];
  /** Calendars per mailbox email; default: one writable primary calendar named after the mailbox. */
  calendars?: Record<string, MailboxCalendar[]>;
  /** Page size when the caller gives none. Default 100. */
  defaultPageSize?: number;
};

type Failure = { reason: ProviderReason; retryAfterMs?: number; times: number; email?: string };

const key = (email: string) => email.toLowerCase();

/**
 * An in-memory DirectoryProvider (STYLE rule 7: a fake, not a mock) for fast tests of services and
 * jobs. It behaves like the real adapters: pages with resumable cursors, `user_not_found` for an
 * unknown email, `user_suspended` / `mailbox_not_enabled` when listing a suspended user's or a
 * mailbox-less user's calendars. Tests change the directory while it runs (add, update, remove) and
 * script failures (`fail`), and read what was called (`calls`).
 */
export class FakeDirectoryProvider implements DirectoryProvider {
  readonly provider: ProviderName;
  readonly calls: { op: FakeOperation; arg?: string }[] = [];
  closed = false;
  private readonly users = new Map<string, DirectoryUser>();
  private readonly rooms = new Map<string, DirectoryRoom>();
  private readonly calendars = new Map<string, MailboxCalendar[]>();
  private readonly failures = new Map<FakeOperation, Failure[]>();
  private readonly defaultPageSize: number;

  constructor(opts: FakeDirectoryOptions = {}) {
    this.provider = opts.provider ?? 'google';
    this.defaultPageSize = opts.defaultPageSize ?? 100;
    for (const u of opts.users ?? []) {
      this.users.set(key(u.email), u);
    }
    for (const r of opts.rooms ?? []) {
      this.rooms.set(key(r.email), r);
    }
    for (const [email, list] of Object.entries(opts.calendars ?? {})) {
      this.calendars.set(key(email), list);
    }
  }

  /** A directory of `users` generated users (every 10th suspended, every 25th without a mailbox) and `rooms` rooms. */
  static generate(opts: {
    users: number;
    rooms: number;
    domain?: string;
    provider?: ProviderName;
  }): FakeDirectoryProvider {
    const domain = opts.domain ?? 'example.com';
    const users: DirectoryUser[] = Array.from({ length: opts.users }, (_, i) => ({
      providerId: `u${i}`,
      email: `user${i}@${domain}`,
      name: `User ${i}`,
      kind: 'user',
      suspended: i > 0 && i % 10 === 0,
      hasMailbox: i === 0 || i % 25 !== 0,
    }));
    const rooms: DirectoryRoom[] = Array.from({ length: opts.rooms }, (_, i) => ({
      providerId: `r${i}`,
      email: `room${i}@${domain}`,
      name: `Room ${i}`,
      capacity: 4 + (i % 8),
      building: `Building ${i % 3}`,
      floor: String(i % 5),
      resourceType: 'Conference room',
    }));
    return new FakeDirectoryProvider({ users, rooms, ...(opts.provider ? { provider: opts.provider } : {}) });
  }

  addUser(user: DirectoryUser): void {
    this.users.set(key(user.email), user);
  }

  updateUser(email: string, patch: Partial<Omit<DirectoryUser, 'email'>>): void {
    const u = this.users.get(key(email));
    if (!u) {
      throw new Error(`fake: no user ${email}`);
    }
    this.users.set(key(email), { ...u, ...patch });
  }

  removeUser(email: string): void {
    this.users.delete(key(email));
  }

  addRoom(room: DirectoryRoom): void {
    this.rooms.set(key(room.email), room);
  }

  updateRoom(email: string, patch: Partial<Omit<DirectoryRoom, 'email'>>): void {
    const r = this.rooms.get(key(email));
    if (!r) {
      throw new Error(`fake: no room ${email}`);
    }
    this.rooms.set(key(email), { ...r, ...patch });
  }

  removeRoom(email: string): void {
    this.rooms.delete(key(email));
  }

  setCalendars(email: string, calendars: MailboxCalendar[]): void {
    this.calendars.set(key(email), calendars);
  }

  /**
   * The next `times` calls of `op` (only those about `email`, when given) throw a ProviderError with
   * `reason`; `times` Infinity fails until `clearFailures()`.
   */
  fail(
    op: FakeOperation,
    reason: ProviderReason,
    opts: { times?: number; email?: string; retryAfterMs?: number } = {},
  ): void {
    const list = this.failures.get(op) ?? [];
    list.push({
      reason,
      times: opts.times ?? 1,
      ...(opts.email === undefined ? {} : { email: key(opts.email) }),
      ...(opts.retryAfterMs === undefined ? {} : { retryAfterMs: opts.retryAfterMs }),
    });
    this.failures.set(op, list);
  }

  clearFailures(): void {
    this.failures.clear();
  }

  async verify(): Promise<{ usersOnFirstPage: number }> {
    this.record('verify');
    return { usersOnFirstPage: Math.min(this.users.size, 100) };
  }

  async listUsersPage(cursor: string | null, opts: ListOptions = {}): Promise<DirectoryPage<DirectoryUser>> {
    this.record('listUsersPage', cursor ?? undefined);
    return this.page([...this.users.values()], cursor, opts.pageSize);
  }

  async listRoomsPage(cursor: string | null, opts: ListOptions = {}): Promise<DirectoryPage<DirectoryRoom>> {
    this.record('listRoomsPage', cursor ?? undefined);
    return this.page([...this.rooms.values()], cursor, opts.pageSize);
  }

  async findMailbox(email: string): Promise<Mailbox> {
    this.record('findMailbox', email);
    const user = this.users.get(key(email));
    if (user) {
      return { ...user };
    }
    const room = this.rooms.get(key(email));
    if (room) {
      return { ...room, kind: 'room', suspended: false, hasMailbox: true };
    }
    throw new ProviderError(
      this.provider,
      'user_not_found',
      'No user, room or shared mailbox has this email',
    );
  }

  async listCalendars(mailbox: Pick<Mailbox, 'kind' | 'email' | 'providerId'>): Promise<MailboxCalendar[]> {
    this.record('listCalendars', mailbox.email);
    const k = key(mailbox.email);
    if (mailbox.kind === 'room') {
      if (!this.rooms.has(k)) {
        throw new ProviderError(this.provider, 'mailbox_not_enabled', 'The room calendar cannot be found');
      }
    } else {
      const user = this.users.get(k);
      if (!user) {
        throw new ProviderError(this.provider, 'user_not_found', 'The user does not exist');
      }
      if (user.suspended) {
        throw new ProviderError(this.provider, 'user_suspended', 'The user is suspended');
      }
      if (!user.hasMailbox) {
        throw new ProviderError(this.provider, 'mailbox_not_enabled', 'The user has no mailbox');
      }
    }
    return (
      this.calendars.get(k) ?? [
        {
          providerCalendarId: mailbox.email,
          name: mailbox.email,
          readonly: mailbox.kind === 'room',
          primary: true,
        },
      ]
    );
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private record(op: FakeOperation, arg?: string): void {
    this.calls.push(arg === undefined ? { op } : { op, arg });
    const list = this.failures.get(op);
    const hit = list?.find(
      (f) => f.times > 0 && (f.email === undefined || (arg !== undefined && key(arg) === f.email)),
    );
    if (hit) {
      hit.times -= 1;
      throw providerError(this.provider, hit.reason, `fake: scripted ${hit.reason}`, {
        retryAfterMs: hit.retryAfterMs,
      });
    }
  }

  private page<T>(all: T[], cursor: string | null, pageSize: number | undefined): DirectoryPage<T> {
    const start = cursor ? Number(cursor) : 0;
    if (!Number.isInteger(start) || start < 0) {
      throw new ProviderError(this.provider, 'provider_unavailable', 'fake: bad cursor');
    }
    const size = Math.max(1, pageSize ?? this.defaultPageSize);
    const items = all.slice(start, start + size);
    const next = start + size;
    return { items, nextCursor: next < all.length ? String(next) : null };
  }
}
