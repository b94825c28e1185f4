import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hash,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { randomBytesPooled } from './random.js';

/**
 * Secrets at rest (DESIGN §9). Reversible secrets (provider credentials, client secrets, which sign
 * callbacks) are AES-256-GCM encrypted under a keyring; bearer secrets we only need to recognise
 * (access/refresh tokens, authorization codes) are stored as SHA-256 hashes.
 */

export type KeyringEntry = { id: string; key: Buffer };

/**
 * Ciphertext format: `v2.<keyId>.<iv b64url>.<tag b64url>.<ciphertext b64url>` (self-describing),
 * authenticated with associated data naming where the value is stored (its table, column and row id:
 * `columnAad`), so a ciphertext copied into another row or column fails to decrypt. `v1` is the same
 * without associated data: written before, still decrypted, and re-encrypted as v2 by `ec keys rotate`.
 */
const FORMAT = 'v2';
const LEGACY_FORMAT = 'v1';

/** The associated data of an encrypted column's value: `<table>.<column>.<row id>`. */
export function columnAad(table: string, column: string, rowId: string): string {
  return `${table}.${column}.${rowId}`;
}

export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecryptionError';
  }
}

export class Keyring {
  private readonly byId: Map<string, Buffer>;
  private readonly primary: KeyringEntry;

  /** The first key encrypts; every key decrypts. */
  constructor(keys: readonly KeyringEntry[]) {
    const first = keys[0];
    if (!first) {
      throw new Error('Keyring needs at least one key');
    }
    for (const k of keys) {
      if (k.key.length !== 32) {
        throw new Error(`Key ${k.id} must be 32 bytes`);
      }
    }
    this.primary = first;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  get primaryKeyId(): string {
    return this.primary.id;
  }

  /** Encrypts under the first key, bound to `aad` (where the value will be stored: `columnAad`). */
  encrypt(plaintext: string, aad: string): string {
    const iv = randomBytesPooled(12);
    const cipher = createCipheriv('aes-256-gcm', this.primary.key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [
      FORMAT,
      this.primary.id,
      iv.toString('base64url'),
      tag.toString('base64url'),
      body.toString('base64url'),
    ].join('.');
  }

  /**
   * Decrypts a value read from where `aad` names; a v2 value written for another place fails
   * authentication. A legacy v1 value has no associated data (rotation re-encrypts it).
   */
  decrypt(ciphertext: string, aad: string): string {
    const parts = ciphertext.split('.');
    if (parts.length !== 5 || (parts[0] !== FORMAT && parts[0] !== LEGACY_FORMAT)) {
      throw new DecryptionError('Unrecognised ciphertext format');
    }
    const [format, keyId, iv, tag, body] = parts as [string, string, string, string, string];
    const key = this.byId.get(keyId);
    if (!key) {
      throw new DecryptionError(
        `Ciphertext was encrypted with key "${keyId}", which is not in ENCRYPTION_KEYS`,
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      if (format === FORMAT) {
        decipher.setAAD(Buffer.from(aad, 'utf8'));
      }
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new DecryptionError(`Ciphertext failed authentication under key "${keyId}"`);
    }
  }

  /** The key id a ciphertext was written with (for rotation: anything not under the primary key). */
  static keyIdOf(ciphertext: string): string | undefined {
    const parts = ciphertext.split('.');
    return parts.length === 5 && (parts[0] === FORMAT || parts[0] === LEGACY_FORMAT) ? parts[1] : undefined;
  }

  /** The prefix of every current ciphertext under the primary key (anything else is rotated). */
  get currentPrefix(): string {
    return `${FORMAT}.${this.primary.id}.`;
  }

  /** Not under the primary key, or legacy (no associated data). */
  needsRotation(ciphertext: string): boolean {
    return !ciphertext.startsWith(this.currentPrefix);
  }
}

/** A fresh 32-byte key in the `id:base64` form ENCRYPTION_KEYS expects. */
export function generateKeyringEntry(id: string): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

/** An opaque bearer secret: 32 random bytes, base64url (43 characters). */
export function newOpaqueToken(bytes = 32): string {
  return randomBytesPooled(bytes).toString('base64url');
}

/** SHA-256 of a bearer secret, hex; what we store and look up by. */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex'); // one-shot: a token exchange hashes four values
}

/** The first `chars` characters of SHA-256(text), base64url: a short, stable key for a list of ids. */
export function shortDigest(text: string, chars = 16): string {
  return createHash('sha256').update(text, 'utf8').digest('base64url').slice(0, chars);
}

/** `base64(HMAC-SHA256(body, secret))`, the value of one entry of `Cronofy-HMAC-SHA256`. */
export function hmacSignature(body: string, secret: string): string {
  return createHmac('sha256', secret).update(body, 'utf8').digest('base64');
}

/** Constant-time string comparison (for comparing hashes and signatures). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
