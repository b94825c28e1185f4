import type { Client } from '@microsoft/microsoft-graph-client';
import { cpuShortage } from '../../lib/machine-load.js';
import { type CallSpec, callProvider } from '../call.js';
import type { ResolvedRuntime } from '../runtime.js';
import { abortable } from '../signals.js';
import {
  type DirectoryPage,
  type DirectoryProvider,
  type DirectoryRoom,
  type DirectoryUser,
  type ListOptions,
  type Mailbox,
  type MailboxCalendar,
  type MicrosoftCredentials,
  ProviderError,
} from '../types.js';
import { MAX_EQUIPMENT_PAGES, MicrosoftAddresses } from './addresses.js';
import { MicrosoftTokenSource, tokenRoles } from './auth.js';
import { GRAPH_BATCH_MAX, GraphBatcher } from './batch.js';
import { GraphCalendarData } from './calendar-data.js';
import {
  GRAPH_ROOMS_MAX_PAGE,
  GRAPH_ROOMS_PAGE,
  GRAPH_USERS_MAX_PAGE,
  type GraphCalendar,
  type GraphPage,
  type GraphRoom,
  type GraphUser,
  graphUserEmail,
  mayBeRoom,
  roomsCursor,
  toDirectoryRoom,
  toDirectoryUser,
  toMailboxCalendar,
  USER_SELECT,
} from './directory.js';
import { type GraphCallKind, graphError, isTokenRefusal, tokenError } from './errors.js';
import { canonicalGraphLink, createGraphClient } from './graph.js';
import { MicrosoftSelection } from './selection.js';

/** How long the room index (used to tell room mailboxes in `/users` apart) is trusted. */
const ROOM_INDEX_TTL_MS = 10 * 60_000;
/** Pages followed at most where we list everything (a mailbox's calendars, the room index). */
const MAX_FOLLOWED_PAGES = 1000;
/** A refused token is re-fetched at most this often (a tenant-wide 403 must not cost a token per call). */
const TOKEN_RECHECK_MS = 60_000;

function consentRevoked(cause: unknown): ProviderError {
  return new ProviderError(
    'microsoft',
    'consent_revoked',
    'The app has no application permissions in the tenant: admin consent was withdrawn',
    { cause },
  );
}

function clamp(size: number | undefined, fallback: number, max: number): number {
  return size === undefined || !Number.isFinite(size)
    ? fallback
    : Math.min(max, Math.max(1, Math.floor(size)));
}

/**
 * Microsoft 365 through an Entra app with application permissions: Graph `/users`, `/places`, and
 * `/users/{id}/calendars`, all with one app-only token.
 */
export class MicrosoftDirectoryProvider implements DirectoryProvider {
  readonly provider = 'microsoft' as const;
  private readonly tokens: MicrosoftTokenSource;
  private readonly graph: Client;
  /** Mailbox reads gathered into JSON batches; undefined when MICROSOFT_GRAPH_BATCH_SIZE is 1. */
  private readonly batcher: GraphBatcher | undefined;
  /** Whether a mailbox read made now goes in a batch (MICROSOFT_GRAPH_BATCHING). */
  private readonly batchNow: () => boolean;
  /** Free/busy and events (calendar-data.ts), through this instance's token and limiter. */
  readonly calendarData: GraphCalendarData;
  readonly selection: MicrosoftSelection;
  /** Lookups by mail or proxy address, domains, equipment mailboxes (addresses.ts). */
  private readonly addresses: MicrosoftAddresses;
  private roomIndex: { at: number; rooms: Promise<Map<string, DirectoryRoom>> } | undefined;
  /** The last time Graph refused our token and a fresh one was fetched, and what that showed. */
  private lastRecheck: { at: number; finding: ProviderError | undefined } = { at: 0, finding: undefined };

  constructor(
    credentials: MicrosoftCredentials,
    private readonly rt: ResolvedRuntime,
  ) {
    this.tokens = new MicrosoftTokenSource({
      credentials,
      loginUrl: rt.urls.microsoftLoginUrl,
      timeoutMs: rt.timeoutMs,
      logger: rt.logger,
    });
    this.graph = createGraphClient(rt.urls.microsoftGraphUrl, () => this.tokens.token());
    const batchSize = Math.min(GRAPH_BATCH_MAX, Math.max(1, Math.floor(rt.graphBatchSize)));
    this.batcher =
      batchSize > 1
        ? new GraphBatcher(
            (requests) =>
              this.graph
                .api('/$batch')
                .option('signal', AbortSignal.timeout(rt.timeoutMs))
                .post({ requests }),
            batchSize,
          )
        : undefined;
    const when = rt.graphBatching;
    this.batchNow = typeof when === 'function' ? when : when === 'always' ? () => true : cpuShortage();
    this.calendarData = new GraphCalendarData(
      (spec, signal, request) =>
        this.call({ api: 'microsoft.mailbox', kind: 'mailbox', ...spec }, signal, request),
      (cursor) => this.link(cursor),
      (nextLink) => this.cursor(nextLink),
    );
    this.addresses = new MicrosoftAddresses({
      call: (spec, signal, request) => this.call(spec, signal, request),
      link: (cursor) => this.link(cursor),
    });
    this.selection = new MicrosoftSelection({
      call: (spec, signal, request) => this.call(spec, signal, request),
      link: (cursor) => this.link(cursor),
      cursor: (nextLink) => this.cursor(nextLink),
      listUsersPage: (cursor, opts) => this.listUsersPage(cursor, opts),
    });
  }

  async verify(signal?: AbortSignal): Promise<{ usersOnFirstPage: number }> {
    const page = await this.listUsersPage(null, { pageSize: 100, ...(signal ? { signal } : {}) });
    return { usersOnFirstPage: page.items.length };
  }

  async listUsersPage(cursor: string | null, opts: ListOptions = {}): Promise<DirectoryPage<DirectoryUser>> {
    const top = clamp(opts.pageSize, GRAPH_USERS_MAX_PAGE, GRAPH_USERS_MAX_PAGE);
    const page = await this.call<GraphPage<GraphUser>>(
      { api: 'microsoft.directory', op: 'users.list', kind: 'directory' },
      opts.signal,
      (g) => (cursor ? g.api(this.link(cursor)) : g.api('/users').select(USER_SELECT).top(top)),
    );
    const values = page.value ?? [];
    // Room mailboxes are listed in /users too, as disabled accounts: they are rooms, not users.
    const rooms = values.some(mayBeRoom) ? await this.rooms(opts.signal) : undefined;
    const items: DirectoryUser[] = [];
    for (const u of values) {
      const email = graphUserEmail(u)?.toLowerCase();
      if (rooms && mayBeRoom(u) && email && rooms.has(email)) {
        continue;
      }
      const user = toDirectoryUser(u);
      if (user) {
        items.push(user);
      }
    }
    return { items, nextCursor: this.cursor(page['@odata.nextLink']) };
  }

  /**
   * Rooms from `/places`; the last page also carries the equipment mailboxes (which `/places` does
   * not list), taken from the room index, whose load finds them (addresses.ts): one scan per index.
   */
  async listRoomsPage(cursor: string | null, opts: ListOptions = {}): Promise<DirectoryPage<DirectoryRoom>> {
    const page = await this.placesPage(cursor, opts);
    if (page.nextCursor) {
      return page;
    }
    const listed = new Set(page.items.map((r) => r.email.toLowerCase()));
    const equipment = [...(await this.rooms(opts.signal)).values()].filter(
      (r) => r.resourceKind === 'equipment' && !listed.has(r.email.toLowerCase()),
    );
    return { items: [...page.items, ...equipment], nextCursor: null };
  }

  listDomains(signal?: AbortSignal): Promise<string[]> {
    return this.addresses.listDomains(signal);
  }

  private async placesPage(cursor: string | null, opts: ListOptions): Promise<DirectoryPage<DirectoryRoom>> {
    const top = clamp(opts.pageSize, GRAPH_ROOMS_PAGE, GRAPH_ROOMS_MAX_PAGE);
    const skip = cursor?.startsWith('skip:') ? Number(cursor.slice(5)) || 0 : 0;
    const link = cursor && !cursor.startsWith('skip:') ? cursor : undefined;
    const page = await this.call<GraphPage<GraphRoom>>(
      { api: 'microsoft.directory', op: 'places.list', kind: 'directory' },
      opts.signal,
      (g) => {
        if (link) {
          return g.api(this.link(link));
        }
        const req = g.api('/places/microsoft.graph.room').top(top);
        return skip > 0 ? req.skip(skip) : req;
      },
    );
    const values = page.value ?? [];
    const items = values.map(toDirectoryRoom).filter((r) => r !== undefined);
    const next = this.cursor(page['@odata.nextLink']);
    return {
      items,
      nextCursor: link && !next ? null : roomsCursor(next ?? undefined, skip, top, values.length),
    };
  }

  async findMailbox(email: string, signal?: AbortSignal): Promise<Mailbox> {
    const room = (await this.rooms(signal)).get(email.toLowerCase());
    if (room) {
      return Object.assign({}, room, {
        kind: 'room' as const,
        suspended: false as const,
        hasMailbox: true as const,
      });
    }
    const u = await this.call<GraphUser>(
      { api: 'microsoft.directory', op: 'users.get', kind: 'directory' },
      signal,
      (g) => g.api(`/users/${encodeURIComponent(email)}`).select(USER_SELECT),
    ).catch(async (err: unknown) => {
      // `/users/{key}` matches the id or the UPN only: the address may be the mail or a proxy one.
      if (err instanceof ProviderError && err.reason === 'user_not_found') {
        const byAddress = await this.addresses.findByAddress(email, signal);
        if (byAddress) {
          return byAddress;
        }
      }
      throw err;
    });
    const user = toDirectoryUser(u);
    if (!user) {
      throw new ProviderError('microsoft', 'user_not_found', 'Graph returned no user for this email');
    }
    if (user.guest) {
      throw new ProviderError(
        'microsoft',
        'guest_user',
        'The directory lists this address as a guest (userType Guest)',
      );
    }
    // Object.assign rather than a leading spread: see accountViews (services/accounts.ts).
    return Object.assign({}, user, {
      kind: user.kind === 'shared_mailbox' ? ('shared_mailbox' as const) : ('user' as const),
    });
  }

  async listCalendars(
    mailbox: Pick<Mailbox, 'kind' | 'email' | 'providerId'>,
    signal?: AbortSignal,
  ): Promise<MailboxCalendar[]> {
    // Users by their immutable object id; rooms by address (a place id is not the mailbox's id).
    const target = mailbox.kind === 'room' ? mailbox.email : mailbox.providerId || mailbox.email;
    const calendars: MailboxCalendar[] = [];
    let link: string | undefined;
    for (let page = 0; page < MAX_FOLLOWED_PAGES; page++) {
      const res: GraphPage<GraphCalendar> = await this.call<GraphPage<GraphCalendar>>(
        { api: 'microsoft.mailbox', op: 'calendars.list', kind: 'mailbox', mailbox: mailbox.email },
        signal,
        (g) =>
          link
            ? g.api(this.link(link))
            : g
                .api(`/users/${encodeURIComponent(target)}/calendars`)
                .select(['id', 'name', 'canEdit', 'isDefaultCalendar'])
                .top(50),
        link
          ? undefined
          : `/users/${encodeURIComponent(target)}/calendars?$select=id,name,canEdit,isDefaultCalendar&$top=50`,
      );
      for (const c of res.value ?? []) {
        const cal = toMailboxCalendar(c);
        if (cal) {
          calendars.push(cal);
        }
      }
      link = this.cursor(res['@odata.nextLink']) ?? undefined;
      if (!link) {
        break;
      }
    }
    return calendars.sort((a, b) => Number(b.primary) - Number(a.primary) || a.name.localeCompare(b.name));
  }

  async close(): Promise<void> {
    this.tokens.clear();
    this.roomIndex = undefined;
  }

  /** Every room, by lower-cased address; cached for ROOM_INDEX_TTL_MS, one load at a time. */
  private rooms(signal: AbortSignal | undefined): Promise<Map<string, DirectoryRoom>> {
    const now = Date.now();
    if (!this.roomIndex || now - this.roomIndex.at > ROOM_INDEX_TTL_MS) {
      const load = this.loadRooms(signal);
      this.roomIndex = { at: now, rooms: load };
      load.catch(() => {
        if (this.roomIndex?.rooms === load) {
          this.roomIndex = undefined;
        }
      });
    }
    return abortable(this.roomIndex.rooms, signal);
  }

  /**
   * Rooms from `/places`, then equipment mailboxes among the disabled accounts (addresses.ts). The
   * first page of disabled accounts is asked together with `/places`, and each next page while this
   * one's candidates are checked: a listing's first users page waits for all of it.
   */
  private async loadRooms(signal: AbortSignal | undefined): Promise<Map<string, DirectoryRoom>> {
    const askDisabled = (link: string | null) => {
      const asked = this.addresses.disabledPage(link, GRAPH_USERS_MAX_PAGE, signal);
      asked.catch(() => {}); // met where it is awaited
      return asked;
    };
    let disabled = askDisabled(null);
    const map = new Map<string, DirectoryRoom>();
    let cursor: string | null = null;
    for (let page = 0; page < MAX_FOLLOWED_PAGES; page++) {
      const res: DirectoryPage<DirectoryRoom> = await this.placesPage(cursor, {
        pageSize: GRAPH_ROOMS_MAX_PAGE,
        ...(signal ? { signal } : {}),
      });
      for (const r of res.items) {
        map.set(r.email.toLowerCase(), r);
      }
      cursor = res.nextCursor;
      if (!cursor) {
        break;
      }
    }
    const places = new Set(map.keys());
    for (let page = 0; page < MAX_EQUIPMENT_PAGES; page++) {
      const res = await disabled;
      const link = this.cursor(res.nextLink);
      if (link && page + 1 < MAX_EQUIPMENT_PAGES) {
        disabled = askDisabled(link);
      }
      for (const r of await this.addresses.equipmentAmong(res.users, places, signal)) {
        map.set(r.email.toLowerCase(), r);
      }
      if (!link) {
        break;
      }
    }
    return map;
  }

  private link(cursor: string): string {
    return canonicalGraphLink(cursor, this.rt.urls.microsoftGraphUrl);
  }

  private cursor(nextLink: string | undefined): string | null {
    return nextLink ? canonicalGraphLink(nextLink, this.rt.urls.microsoftGraphUrl) : null;
  }

  private call<T>(
    spec: { api: CallSpec['api']; op: string; kind: GraphCallKind; mailbox?: string },
    signal: AbortSignal | undefined,
    request: (g: Client) => { option(k: string, v: unknown): { get(): Promise<unknown> } },
    /** The same GET as a URL relative to the version, when it may go in a JSON batch. */
    batchUrl?: string,
  ): Promise<T> {
    const callSpec: CallSpec = {
      provider: 'microsoft',
      api: spec.api,
      op: spec.op,
      ...(spec.mailbox === undefined ? {} : { mailbox: spec.mailbox }),
    };
    const batcher = batchUrl === undefined || !this.batchNow() ? undefined : this.batcher;
    const send = async (s: AbortSignal): Promise<T> =>
      batcher && batchUrl !== undefined
        ? await batcher.get<T>(batchUrl, s)
        : ((await request(this.graph).option('signal', s).get()) as T);
    return callProvider(
      this.rt,
      callSpec,
      signal,
      async (s) => {
        // The token first, outside graph-client: its errors keep MSAL's AADSTS code (graph-client
        // would wrap them into a status-less GraphError). The SDK's auth handler then reads MSAL's cache.
        await this.token(false, s);
        try {
          return await send(s);
        } catch (err) {
          if (!isTokenRefusal(err)) {
            throw graphError(err, spec.kind);
          }
          const recent = this.lastRecheck;
          if (Date.now() - recent.at < TOKEN_RECHECK_MS) {
            throw recent.finding
              ? new ProviderError('microsoft', recent.finding.reason, recent.finding.message, { cause: err })
              : graphError(err, spec.kind);
          }
          // Graph refused the cached token: consent withdrawn or permissions changed since it was
          // issued. A fresh token says which (an AADSTS error, or a token without roles).
          this.lastRecheck = { at: Date.now(), finding: undefined };
          let token: string;
          try {
            token = await this.token(true, s);
          } catch (tokenErr) {
            if (tokenErr instanceof ProviderError && !tokenErr.retryable) {
              this.lastRecheck.finding = tokenErr;
            }
            throw tokenErr;
          }
          if (tokenRoles(token)?.length === 0) {
            this.lastRecheck.finding = consentRevoked(err);
            throw this.lastRecheck.finding;
          }
          return await send(s);
        }
      },
      (err) => graphError(err, spec.kind),
    );
  }

  private async token(fresh: boolean, signal: AbortSignal): Promise<string> {
    try {
      return await abortable(this.tokens.token(fresh), signal);
    } catch (err) {
      throw tokenError(err);
    }
  }
}
