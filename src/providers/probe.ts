import type { ProviderFailure } from './types.js';

/**
 * A live permission check of a credential: each permission the product needs tried once, with the
 * smallest call that proves it (a one-item page, one calendar read). Outcomes are raw: what the
 * provider answered; services/fixes.ts turns a failure into the admin's fix.
 */

/** The checks, in the order they are reported (pinned: the CLI's and the API's `check` values). */
export const PERMISSION_CHECKS = [
  'token',
  'directory_users',
  'rooms',
  'buildings',
  'groups',
  'calendar_user',
  'calendar_room',
  'access_policy',
  'credential_expiry',
] as const;
export type PermissionCheck = (typeof PERMISSION_CHECKS)[number];

export type ProbeOutcome =
  | { status: 'ok'; detail: string }
  | { status: 'failed'; error: ProviderFailure }
  /** Not applicable or not possible (no sample room, a prerequisite failed): says why. */
  | { status: 'skipped'; detail: string }
  /** Works, but something needs attention (an expiry close, a permission missing for an optional read). */
  | { status: 'warning'; detail: string; error?: ProviderFailure };

export type ProbeResult = {
  check: PermissionCheck;
  /** What was tried: the scope, the Graph permission, the mailbox. */
  target: string;
  outcome: ProbeOutcome;
};

export type ProbeOptions = {
  /** The mailbox whose calendar (and, for Microsoft, application access policy) is tried; default: the first usable user listed. */
  sampleMailbox?: string | undefined;
  signal?: AbortSignal | undefined;
};

/** The app's client secrets as the provider records them: end date, and the first characters of each. */
export type SecretExpiry = { secrets: { endDateTime: Date; hint: string | null }[] };

export interface PermissionProbe {
  run(opts?: ProbeOptions): Promise<ProbeResult[]>;
  /**
   * Microsoft: the end dates of the app's client secrets (`passwordCredentials[].endDateTime`), when the
   * app may read its own registration (Application.Read.All); throws the provider's refusal otherwise.
   * Google: undefined (a key's expiry is not readable with the delegated scopes).
   */
  secretExpiry(signal?: AbortSignal): Promise<SecretExpiry | undefined>;
  close(): Promise<void>;
}
