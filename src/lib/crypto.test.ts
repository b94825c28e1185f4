import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  columnAad,
  DecryptionError,
  generateKeyringEntry,
  hashToken,
  hmacSignature,
  Keyring,
  newOpaqueToken,
  safeEqual,
} from './crypto.js';

const key = (id: string, fill: number) => ({ id, key: Buffer.alloc(32, fill) });
const AAD = columnAad('service_accounts', 'credentials_encrypted', 'sa_1');

/** A ciphertext in the legacy v1 format (no associated data), as written before v2. */
function legacyV1(k: { id: string; key: Buffer }, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', k.key, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [
    'v1',
    k.id,
    iv.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
    body.toString('base64url'),
  ].join('.');
}

describe('Keyring', () => {
  it('round-trips unicode text and never emits the plaintext', () => {
    const ring = new Keyring([key('a', 1)]);
    const secret = 'søper-sécret 🔑 with spaces';
    const ct = ring.encrypt(secret, AAD);
    expect(ct).not.toContain(secret);
    expect(ct.startsWith('v2.a.')).toBe(true);
    expect(ring.decrypt(ct, AAD)).toBe(secret);
  });

  it('uses a fresh IV each time', () => {
    const ring = new Keyring([key('a', 1)]);
    expect(ring.encrypt('x', AAD)).not.toBe(ring.encrypt('x', AAD));
  });

  it('encrypts with the first key and decrypts with any key in the ring', () => {
    const old = new Keyring([key('old', 1)]);
    const rotated = new Keyring([key('new', 2), key('old', 1)]);
    const ct = old.encrypt('value', AAD);
    expect(rotated.decrypt(ct, AAD)).toBe('value');
    expect(rotated.needsRotation(ct)).toBe(true);
    const fresh = rotated.encrypt('value', AAD);
    expect(Keyring.keyIdOf(fresh)).toBe('new');
    expect(rotated.needsRotation(fresh)).toBe(false);
  });

  it('names a missing key and detects tampering', () => {
    const ring = new Keyring([key('a', 1)]);
    const other = new Keyring([key('b', 2)]);
    expect(() => other.decrypt(ring.encrypt('v', AAD), AAD)).toThrow(/"a", which is not in ENCRYPTION_KEYS/);
    const ct = ring.encrypt('value', AAD);
    const parts = ct.split('.');
    const body = Buffer.from(parts[4] ?? '', 'base64url');
    body[0] = (body[0] ?? 0) ^ 1;
    parts[4] = body.toString('base64url');
    expect(() => ring.decrypt(parts.join('.'), AAD)).toThrow(DecryptionError);
    expect(() => ring.decrypt('not a ciphertext', AAD)).toThrow(DecryptionError);
  });

  it('binds a ciphertext to its associated data (table, column, row id)', () => {
    const ring = new Keyring([key('a', 1)]);
    const ct = ring.encrypt('value', AAD);
    expect(ring.decrypt(ct, AAD)).toBe('value');
    for (const elsewhere of [
      columnAad('service_accounts', 'credentials_encrypted', 'sa_2'),
      columnAad('application_secrets', 'credentials_encrypted', 'sa_1'),
      columnAad('service_accounts', 'secret_encrypted', 'sa_1'),
    ]) {
      expect(() => ring.decrypt(ct, elsewhere)).toThrow(DecryptionError);
    }
  });

  it('still decrypts legacy v1 values (no associated data) and marks them for rotation', () => {
    const ring = new Keyring([key('a', 1)]);
    const old = legacyV1(key('a', 1), 'legacy');
    expect(ring.decrypt(old, AAD)).toBe('legacy');
    expect(Keyring.keyIdOf(old)).toBe('a');
    expect(ring.needsRotation(old)).toBe(true);
    expect(ring.needsRotation(ring.encrypt('legacy', AAD))).toBe(false);
  });

  it('rejects keys that are not 32 bytes', () => {
    expect(() => new Keyring([{ id: 'x', key: Buffer.alloc(16) }])).toThrow(/32 bytes/);
    expect(() => new Keyring([])).toThrow();
  });

  it('generates keyring entries that parse back', () => {
    const entry = generateKeyringEntry('k9');
    const [id, b64] = entry.split(':');
    expect(id).toBe('k9');
    expect(Buffer.from(b64 ?? '', 'base64').length).toBe(32);
  });
});

describe('tokens and signatures', () => {
  it('makes opaque tokens of at least 32 random bytes, base64url', () => {
    const t = newOpaqueToken();
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(Array.from({ length: 100 }, () => newOpaqueToken())).size).toBe(100);
  });

  it('hashes with SHA-256 hex', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('signs like Cronofy-HMAC-SHA256 (base64 HMAC-SHA256 of the body)', () => {
    // RFC 4231 test case 2.
    expect(hmacSignature('what do ya want for nothing?', 'Jefe')).toBe(
      Buffer.from('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843', 'hex').toString(
        'base64',
      ),
    );
  });

  it('compares in constant time and handles different lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });
});
