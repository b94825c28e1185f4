import type { FaultConfig, QuotaConfig } from './config.js';
import type { CountersSnapshot } from './counters.js';
import type { DirRoom, DirUser, Provider } from './generate.js';
import type { ConsentMode, GoogleServiceAccountKey } from './state.js';
import type { SandboxStateView } from './state-view.js';

export type SandboxUser = Omit<DirUser, 'pos'> & {
  name: string;
  /** Orgs with `structure`: the user's org unit, and the groups holding it (nested ones included). */
  orgUnitPath?: string;
  groups?: string[];
};
export type SandboxRoom = Omit<DirRoom, 'pos'>;
export type UserInput = { email: string; name: string; suspended?: boolean; mailbox?: boolean };
export type UserPatch = { name?: string; suspended?: boolean; mailbox?: boolean; accessDenied?: boolean };
export type RoomInput = {
  email?: string;
  name: string;
  capacity?: number | null;
  building?: string | null;
  floor?: number | null;
};
export type RoomPatch = Partial<Omit<RoomInput, 'email'>>;
export type FaultsInput = Partial<FaultConfig> & { quotas?: boolean | Partial<QuotaConfig> };
export type Listing<K extends string, T> = { total: number; offset: number; limit: number } & Record<K, T[]>;

/** A control API call the sandbox refused (400 bad input, 404 unknown, 409 conflict). */
export class SandboxControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'SandboxControlError';
  }
}

/** Typed client of the control API (`/_sandbox/...`), one method per route. */
export class SandboxClient {
  constructor(readonly url: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}/_sandbox${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const data: unknown = text ? JSON.parse(text) : undefined;
    if (!res.ok) {
      const message = (data as { error?: string } | undefined)?.error ?? `HTTP ${res.status}`;
      throw new SandboxControlError(res.status, message);
    }
    return data as T;
  }

  state(): Promise<SandboxStateView> {
    return this.call('GET', '/state');
  }

  listUsers(
    provider: Provider,
    page: { offset?: number; limit?: number } = {},
  ): Promise<Listing<'users', SandboxUser>> {
    return this.call('GET', `/${provider}/users?offset=${page.offset ?? 0}&limit=${page.limit ?? 100}`);
  }

  addUser(provider: Provider, user: UserInput): Promise<SandboxUser> {
    return this.call('POST', `/${provider}/users`, user);
  }

  updateUser(provider: Provider, email: string, patch: UserPatch): Promise<SandboxUser> {
    return this.call('PATCH', `/${provider}/users/${encodeURIComponent(email)}`, patch);
  }

  async deleteUser(provider: Provider, email: string): Promise<void> {
    await this.call('DELETE', `/${provider}/users/${encodeURIComponent(email)}`);
  }

  listRooms(
    provider: Provider,
    page: { offset?: number; limit?: number } = {},
  ): Promise<Listing<'rooms', SandboxRoom>> {
    return this.call('GET', `/${provider}/rooms?offset=${page.offset ?? 0}&limit=${page.limit ?? 100}`);
  }

  addRoom(provider: Provider, room: RoomInput): Promise<SandboxRoom> {
    return this.call('POST', `/${provider}/rooms`, room);
  }

  updateRoom(provider: Provider, email: string, patch: RoomPatch): Promise<SandboxRoom> {
    return this.call('PATCH', `/${provider}/rooms/${encodeURIComponent(email)}`, patch);
  }

  async deleteRoom(provider: Provider, email: string): Promise<void> {
    await this.call('DELETE', `/${provider}/rooms/${encodeURIComponent(email)}`);
  }

  /** Domain-wide delegation on or off (revoking it also invalidates tokens already issued). */
  setDelegation(input: {
    granted: boolean;
    scopes?: string[] | null;
  }): Promise<{ delegation: { granted: boolean; scopes: string[] | null } }> {
    return this.call('POST', '/google/delegation', input);
  }

  /** Rotate (a new key; the old one stops verifying) or revoke/restore the Google service-account key. */
  setGoogleKey(input: {
    rotate?: boolean;
    revoked?: boolean;
  }): Promise<{ keyRevoked: boolean; serviceAccountKey: GoogleServiceAccountKey }> {
    return this.call('POST', '/google/key', input);
  }

  setConsent(input: {
    granted: boolean;
    mode?: ConsentMode;
  }): Promise<{ consent: { granted: boolean; mode: ConsentMode } }> {
    return this.call('POST', '/microsoft/consent', input);
  }

  /** Expire/unexpire the client secret, or rotate it (the old one then gives AADSTS7000215). */
  setSecret(input: {
    expired?: boolean;
    rotate?: boolean;
  }): Promise<{ clientSecret: string; secretExpired: boolean }> {
    return this.call('POST', '/microsoft/secret', input);
  }

  setFaults(input: FaultsInput): Promise<{ faults: FaultConfig; quotas: QuotaConfig }> {
    return this.call('PUT', '/faults', input);
  }

  counters(): Promise<CountersSnapshot> {
    return this.call('GET', '/counters');
  }

  resetCounters(): Promise<CountersSnapshot> {
    return this.call('POST', '/counters/reset');
  }
}
