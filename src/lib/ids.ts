import { randomBytesPooled } from './random.js';

/**
 * Prefixed, random, URL-safe ids (`acc_…`). The prefix tells a reader what an id points to; the rest
 * is 16 random bytes in Crockford-free lower-case base32 (26 characters, no padding).
 */
export const ID_PREFIXES = {
  application: 'app',
  serviceAccount: 'ser',
  account: 'acc',
  profile: 'pro',
  calendar: 'cal',
  run: 'run',
  runItem: 'itm',
  channel: 'chn',
  directoryEntry: 'dir',
  delivery: 'dlv',
  token: 'tok',
  code: 'cod',
  authorizationRequest: 'azr',
  audit: 'aud',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) {
    out += ALPHABET[(buffer << (5 - bits)) & 31];
  }
  return out;
}

export function newId(kind: IdKind): string {
  return `${ID_PREFIXES[kind]}_${base32(randomBytesPooled(16))}`;
}

const ID_PATTERN = /^[a-z]{3}_[a-z2-7]{26}$/;

/** True when `value` looks like an id of `kind` (shape only; says nothing about existence). */
export function isId(kind: IdKind, value: string): boolean {
  return value.startsWith(`${ID_PREFIXES[kind]}_`) && ID_PATTERN.test(value);
}
